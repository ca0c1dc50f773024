//! What epoll reports, handled: readiness of a socket (connect finished, input, room to
//! write, error-queue notifications), then the ready list run in turns: accepts on
//! listeners, reads on streams.

use super::{errno, EpollBackend, TIMER_TOKEN, WAKE_TOKEN};
use crate::core::buffers::LARGE;
use crate::core::slab::SocketId;
use crate::core::{Core, Kind, State, WriteShut};
use crate::error::SysError;
use crate::event::Event;
use crate::sys;

/// Reads per socket per poll before others get a turn.
const READ_BUDGET: u32 = 16;
/// Accepts per listener per poll.
const ACCEPT_BUDGET: u32 = 128;

const IN: u32 = libc::EPOLLIN as u32;
const OUT: u32 = libc::EPOLLOUT as u32;
const RDHUP: u32 = libc::EPOLLRDHUP as u32;
const ERR: u32 = libc::EPOLLERR as u32;
const HUP: u32 = libc::EPOLLHUP as u32;

impl Core<EpollBackend> {
    /// One epoll event: `token` names the socket (or the eventfd / the zerocopy timer).
    pub(super) fn on_epoll_event(&mut self, token: u64, events: u32, out: &mut Vec<Event>) {
        if token == WAKE_TOKEN {
            sys::eventfd_clear(self.be.evfd);
            self.stats.other_syscalls += 1;
            self.be.woken = false;
            return;
        }
        if token == TIMER_TOKEN {
            self.on_zc_timer();
            return;
        }
        let id = token as SocketId;
        let Some(s) = self.socks.get_mut(id) else {
            return;
        };
        let mut err = events & (ERR | HUP) != 0;
        if s.zc.is_some() && events & ERR != 0 {
            // EPOLLERR also means "zerocopy notifications queued".
            let found = self.drain_errqueue(id);
            // (A closing socket may have finished closing right there.)
            err = events & HUP != 0 || !found;
        }
        let Some(s) = self.socks.get_mut(id) else {
            return;
        };
        if s.state == State::Closing {
            return;
        }
        if s.state == State::Connecting {
            if events & OUT == 0 && !err {
                return;
            }
            let e = sys::take_so_error(s.fd);
            self.stats.other_syscalls += 1;
            s.state = State::Open;
            if e != 0 {
                self.fail(id, SysError::new(e, "connect"), out);
                return;
            }
            out.push(Event::Connected { socket: id });
            s.be.writable = true;
            if !s.sendq.is_empty() || s.shut == WriteShut::Wanted {
                self.mark_dirty(id);
            }
            let s = self.socks.get_mut(id).expect("still there");
            if events & (IN | RDHUP) != 0 {
                s.be.readable = true;
                s.be.rdhup |= events & RDHUP != 0;
            }
        } else {
            if events & (IN | RDHUP) != 0 || err {
                s.be.readable = true;
                s.be.rdhup |= events & RDHUP != 0 || err;
            }
            if events & OUT != 0 {
                s.be.writable = true;
                if !s.sendq.is_empty() || s.shut == WriteShut::Wanted {
                    self.mark_dirty(id);
                }
            }
        }
        if self.socks.get(id).is_some_and(|s| s.be.readable) {
            self.make_ready(id);
        }
    }

    /// Gives every socket on the ready list one turn (accepts or reads up to a budget).
    pub(super) fn run_ready(&mut self, out: &mut Vec<Event>, start: usize, max: usize) {
        let rounds = self.be.ready.len();
        for _ in 0..rounds {
            if out.len() - start >= max {
                return;
            }
            let Some(id) = self.be.ready.pop_front() else {
                return;
            };
            let Some(s) = self.socks.get_mut(id) else {
                continue;
            };
            s.be.in_ready = false;
            let again = match s.kind {
                Kind::Listener => self.accept_some(id, out, start, max),
                Kind::Stream => self.read_some(id, out, start, max),
            };
            if again {
                self.make_ready(id);
            }
        }
    }

    /// Accepts up to a budget; true if the listener may have more.
    fn accept_some(
        &mut self,
        id: SocketId,
        out: &mut Vec<Event>,
        start: usize,
        max: usize,
    ) -> bool {
        for _ in 0..ACCEPT_BUDGET {
            if out.len() - start >= max {
                return true;
            }
            let Some(l) = self.socks.get_mut(id) else {
                return false;
            };
            // SAFETY: accept4 with null address pointers is allowed.
            let fd = unsafe {
                libc::accept4(
                    l.fd,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                )
            };
            self.stats.other_syscalls += 1;
            if fd >= 0 {
                self.accepted(id, fd, out);
                continue;
            }
            match errno() {
                libc::EAGAIN => {
                    l.be.readable = false;
                    return false;
                }
                libc::EINTR | libc::ECONNABORTED => continue,
                e => {
                    l.be.readable = false;
                    // The backlog still holds connections but no new edge will come: retry
                    // when a descriptor is freed (close) or after a while.
                    self.stall_accept(id, e);
                    out.push(Event::Error {
                        socket: id,
                        err: SysError::new(e, "accept"),
                    });
                    return false;
                }
            }
        }
        true
    }

    /// Reads up to a budget; true if the socket may have more (budget used up).
    fn read_some(&mut self, id: SocketId, out: &mut Vec<Event>, start: usize, max: usize) -> bool {
        let mapped = self.socks.get(id).is_some_and(|s| s.be.zc_window.is_some());
        for _ in 0..READ_BUDGET {
            if out.len() - start >= max {
                return true;
            }
            if !self.socks.get(id).is_some_and(|s| s.can_read()) {
                return false;
            }
            let more = if mapped {
                self.read_mapped(id, out)
            } else {
                self.read_plain(id, out)
            };
            if !more {
                return false;
            }
        }
        true
    }

    /// One read into a large buffer; true if more may be there (a short read without the
    /// peer's FIN used up the edge).
    fn read_plain(&mut self, id: SocketId, out: &mut Vec<Event>) -> bool {
        let Some(len) = self.plain_read(id, out, usize::MAX) else {
            return false;
        };
        let short = len > 0 && len < self.bufs.large_size;
        let s = self.socks.get_mut(id).expect("still there");
        if short && !s.be.rdhup {
            s.be.readable = false;
            return false;
        }
        true
    }

    /// One plain recv of at most `limit` bytes into a large buffer: `Some(bytes delivered)`
    /// (0 after EINTR), or `None` when reading stopped (EOF, EAGAIN, an error, no buffer).
    pub(super) fn plain_read(
        &mut self,
        id: SocketId,
        out: &mut Vec<Event>,
        limit: usize,
    ) -> Option<usize> {
        let Ok((h, ptr)) = self.bufs.acquire(LARGE) else {
            self.starve(id);
            return None;
        };
        let Some(s) = self.socks.get(id) else {
            self.bufs.release(h);
            return None;
        };
        let want = self.bufs.large_size.min(limit);
        // SAFETY: `ptr` is a buffer of at least `want` bytes we own.
        let rc = unsafe { libc::recv(s.fd, ptr.cast(), want, 0) };
        self.stats.read_calls += 1;
        if rc > 0 {
            let len = rc as usize;
            if !self.deliver_data(id, (h, ptr), len, out) {
                self.bufs.release(h);
            }
            return Some(len);
        }
        self.bufs.release(h);
        self.read_ended(id, rc, out).then_some(0)
    }

    /// A recv that returned `rc <= 0`: EOF, EAGAIN or an error ends reading (false); EINTR
    /// lets the caller try again (true).
    fn read_ended(&mut self, id: SocketId, rc: isize, out: &mut Vec<Event>) -> bool {
        let e = if rc == 0 { 0 } else { errno() };
        let Some(s) = self.socks.get_mut(id) else {
            return false;
        };
        if e == libc::EINTR {
            return true;
        }
        s.be.readable = false;
        match e {
            0 => {
                s.eof = true;
                out.push(Event::Eof { socket: id });
            }
            libc::EAGAIN => {}
            e => self.fail(id, SysError::new(e, "read"), out),
        }
        false
    }
}
