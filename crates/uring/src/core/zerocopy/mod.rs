//! Zerocopy sends in the core: queueing them, reporting finished ones as `ZeroCopyDone`, and
//! closes that wait for the kernel to let go of zerocopy memory (abort after a grace period).
//! `tracker.rs` keeps one socket's sends; how the kernel is asked and how it notifies is the
//! backend's (`backend/*/zerocopy.rs`).

pub(crate) mod tracker;

use super::{writable, Backend, BufRange, Core, State};
use crate::core::sendq::ZcTouched;
use crate::core::slab::SocketId;
use crate::error::EngineError;
use crate::event::Event;
use std::time::{Duration, Instant};
use zerosock_pool::BufHandle;

/// A close waits this long for zerocopy notifications before it aborts the connection (which
/// purges unsent data, so the kernel lets go of its memory).
pub(crate) const ZC_CLOSE_ABORT_AFTER: Duration = Duration::from_secs(1);

/// Aborts a TCP connection but keeps the descriptor: connect(AF_UNSPEC) resets it and purges
/// its send queue, whose zerocopy notifications then arrive as usual.
pub(crate) fn disconnect(fd: std::os::fd::RawFd) {
    // SAFETY: sockaddr is plain old data; all-zero with AF_UNSPEC is what disconnect expects.
    let mut sa: libc::sockaddr = unsafe { std::mem::zeroed() };
    sa.sa_family = libc::AF_UNSPEC as libc::sa_family_t;
    // SAFETY: `sa` is a valid sockaddr of the length passed.
    unsafe {
        libc::connect(
            fd,
            &sa,
            std::mem::size_of::<libc::sockaddr>() as libc::socklen_t,
        )
    };
}

impl<B: Backend> Core<B> {
    /// Queues a zerocopy send of `len` bytes at `ptr` (owned by `owner` when it is a pool
    /// buffer) behind everything queued on the socket; returns its send id.
    pub fn send_zerocopy_src(
        &mut self,
        id: SocketId,
        owner: Option<BufHandle>,
        ptr: *const u8,
        len: u32,
    ) -> Result<u32, EngineError> {
        if len == 0 {
            return Err(EngineError::InvalidArgument("a zerocopy send needs bytes"));
        }
        if self.is_tls(id) {
            return self.tls_send_zerocopy(id, owner, ptr, len);
        }
        let s = writable(&mut self.socks, id)?;
        let t = s.zc.get_or_insert_with(Box::default);
        if !t.configured {
            t.configured = true;
            // Without kernel zerocopy the sends are written as copies and say so. AF_UNIX has
            // none at all (SO_ZEROCOPY and SEND_ZC are EOPNOTSUPP there): it is never asked.
            t.fallback = s.unix || !self.be.zerocopy_available(s.fd, &mut self.stats);
        }
        if t.fallback {
            self.stats.zerocopy_fallback_sends += 1;
        }
        let send_id = t.add(owner, len);
        s.sendq.push_zc(ptr, len, send_id);
        self.stats.zerocopy_sends += 1;
        self.stats.zerocopy_bytes += u64::from(len);
        self.mark_dirty(id);
        Ok(send_id)
    }

    /// A zerocopy send on a TLS socket: the data is encrypted from a copy (there is no way to
    /// hand plaintext to the kernel), so the send is finished at once and reported `copied`.
    fn tls_send_zerocopy(
        &mut self,
        id: SocketId,
        owner: Option<BufHandle>,
        ptr: *const u8,
        len: u32,
    ) -> Result<u32, EngineError> {
        // SAFETY: `ptr..ptr + len` is a checked pool range or memory the caller keeps valid
        // until this send's `ZeroCopyDone` (send_zerocopy_pinned's contract); it is read here.
        let data = unsafe { std::slice::from_raw_parts(ptr, len as usize) };
        self.tls_send(id, data)?;
        let s = writable(&mut self.socks, id)?;
        let t = s.zc.get_or_insert_with(Box::default);
        t.configured = true;
        t.fallback = true;
        let first = t.add(owner, len);
        let all = ZcTouched {
            first,
            last: first,
            last_complete: true,
        };
        t.written_by_copy(all, &mut self.bufs);
        self.stats.zerocopy_sends += 1;
        self.stats.zerocopy_fallback_sends += 1;
        self.stats.zerocopy_bytes += u64::from(len);
        self.note_zc_done(id);
        Ok(first)
    }

    /// `send_zerocopy_src` of a range of a pool buffer (which the engine then owns).
    pub fn send_zerocopy(&mut self, id: SocketId, range: BufRange) -> Result<u32, EngineError> {
        let ptr = range.start(&self.bufs)?;
        self.send_zerocopy_src(id, Some(range.buf), ptr, range.len)
    }

    /// Puts socket `id` on the list to report if its tracker has finished sends.
    pub fn note_zc_done(&mut self, id: SocketId) {
        let done = self
            .socks
            .get(id)
            .and_then(|s| s.zc.as_ref())
            .is_some_and(|t| t.has_done());
        if done && !self.zc_ready.contains(&id) {
            self.zc_ready.push(id);
        }
    }

    /// Reports finished zerocopy sends as `ZeroCopyDone` ranges (none for closing sockets:
    /// only `Closed` follows a close).
    pub fn emit_zc_done(&mut self, out: &mut Vec<Event>) {
        if self.zc_ready.is_empty() {
            return;
        }
        let mut ranges = Vec::new();
        for id in std::mem::take(&mut self.zc_ready) {
            let Some(s) = self.socks.get_mut(id) else {
                continue;
            };
            let closing = s.state == State::Closing;
            let Some(t) = s.zc.as_mut() else {
                continue;
            };
            ranges.clear();
            t.take_ranges(&mut ranges);
            if closing {
                continue;
            }
            for &(first, last, copied, bytes) in &ranges {
                let n = u64::from(last.wrapping_sub(first)) + 1;
                self.stats.zerocopy_done_sends += n;
                self.stats.zc_done_events += 1;
                if copied {
                    self.stats.zerocopy_copied_sends += n;
                    self.stats.zerocopy_copied_bytes += bytes;
                }
                out.push(Event::ZeroCopyDone {
                    socket: id,
                    first,
                    last,
                    copied,
                });
            }
        }
    }

    /// Closing socket `id` waits for the kernel to let go of its zerocopy memory.
    pub fn close_after_zerocopy(&mut self, id: SocketId) {
        self.zc_closing.push((id, Instant::now(), false));
        self.check_zc_closing();
    }

    /// Finishes closes whose zerocopy memory the kernel let go of (or that waited too long);
    /// past the grace period aborts the connection (which frees what it still sends).
    pub fn check_zc_closing(&mut self) {
        if self.zc_closing.is_empty() {
            return;
        }
        let now = Instant::now();
        let mut keep = Vec::new();
        for (id, since, mut aborted) in std::mem::take(&mut self.zc_closing) {
            let Some(s) = self.socks.get(id) else {
                continue;
            };
            let holds = s.zc.as_ref().is_some_and(|t| t.kernel_holds());
            let waited = now.duration_since(since);
            if !holds || B::ZC_CLOSE_GIVE_UP_AFTER.is_some_and(|limit| waited >= limit) {
                B::zc_close_settled(self, id);
                continue;
            }
            if !aborted && waited >= ZC_CLOSE_ABORT_AFTER {
                disconnect(s.fd);
                self.stats.other_syscalls += 1;
                aborted = true;
                B::zc_aborted(self, id);
                if self.socks.get(id).is_none() {
                    continue;
                }
            }
            keep.push((id, since, aborted));
        }
        self.zc_closing.extend(keep);
        B::arm_zc_timer(self, now);
    }

    /// When the next zerocopy close is due to abort or give up.
    pub fn next_zc_deadline(&self) -> Option<Instant> {
        self.zc_closing
            .iter()
            .filter_map(|&(_, since, aborted)| {
                if aborted {
                    B::ZC_CLOSE_GIVE_UP_AFTER.map(|limit| since + limit)
                } else {
                    Some(since + ZC_CLOSE_ABORT_AFTER)
                }
            })
            .min()
    }
}
