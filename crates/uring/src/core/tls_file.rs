//! Files on TLS sockets (`sendFile`). Their bytes must pass through the session, so the engine
//! reads them — pread(2) into a pool buffer, a copy, reported as one — and encrypts them like
//! a send. A file is read a chunk at a time as the kernel takes the ciphertext ahead of it (at
//! most [`AHEAD_BUFFERS`] large buffers of ciphertext queued), so a big file never sits in
//! memory. Order is kept: sends after a file wait behind it (as plaintext copies), an `end()`
//! waits too (close_notify and FIN go after the file), and `FileSent` goes out once the
//! ciphertext of the file's last byte was sent — as for a file on a plain socket.
//!
//! The reads are synchronous: a file in the page cache costs a copy; one that is not stalls
//! the engine's thread for the disk read.

use super::buffers::LARGE;
use super::tls::TlsConn;
use super::{Backend, Core, WriteShut};
use crate::core::slab::SocketId;
use crate::error::EngineError;
use crate::event::Event;
use std::collections::VecDeque;
use std::os::fd::{AsRawFd, OwnedFd};

/// Ciphertext the kernel has not taken yet, in large buffers, before a file's next chunk is
/// read.
pub(crate) const AHEAD_BUFFERS: u64 = 4;

/// What waits behind a file on a TLS connection.
enum Held {
    /// A send made after the file (a copy of its plaintext).
    Plain(Vec<u8>),
    /// A file range still to read.
    File(HeldFile),
}

struct HeldFile {
    /// The engine's duplicate of the caller's descriptor (closed when dropped).
    fd: OwnedFd,
    offset: u64,
    left: u64,
    read: u64,
}

/// A connection's files and what waits behind them.
#[derive(Default)]
pub(crate) struct TlsBacklog {
    held: VecDeque<Held>,
    /// Files read to their end (or failed): (plaintext end, bytes, errno), reported as
    /// `FileSent` once the ciphertext up to that plaintext end was sent.
    done: VecDeque<(u64, u64, i32)>,
    /// `end()` came while something was held: close_notify and the FIN go after it.
    end_wanted: bool,
}

impl TlsBacklog {
    /// Whether sends must wait behind a file.
    pub fn holds(&self) -> bool {
        !self.held.is_empty()
    }

    /// Keeps a send that came after a file.
    pub fn hold(&mut self, data: &[u8]) {
        self.held.push_back(Held::Plain(data.to_vec()));
    }

    /// `end()` while something is held: true (the FIN waits for the backlog).
    pub fn end_after(&mut self) -> bool {
        if self.holds() {
            self.end_wanted = true;
        }
        self.end_wanted
    }
}

/// Reads up to `buf.len()` bytes at `offset`: the count, or the errno.
fn pread(fd: &OwnedFd, buf: &mut [u8], offset: u64) -> Result<usize, i32> {
    loop {
        // SAFETY: `buf` is a writable slice of `buf.len()` bytes the caller owns; `fd` is open.
        let n = unsafe {
            libc::pread(
                fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                offset as libc::off_t,
            )
        };
        if n >= 0 {
            return Ok(n as usize);
        }
        let errno = std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO);
        if errno != libc::EINTR {
            return Err(errno);
        }
    }
}

impl<B: Backend> Core<B> {
    /// `sendFile` on a TLS connection: `len` bytes of `fd` (the engine's own duplicate) from
    /// `offset` are encrypted behind what was sent before.
    pub(crate) fn tls_send_file(
        &mut self,
        id: SocketId,
        fd: OwnedFd,
        offset: u64,
        len: u64,
    ) -> Result<(), EngineError> {
        let c = self.tls_conn(id).ok_or(EngineError::WrongSocketKind)?;
        c.backlog.held.push_back(Held::File(HeldFile {
            fd,
            offset,
            left: len,
            read: 0,
        }));
        self.tls_pump(id);
        let done = self.tls_files_sent(id);
        if !done.is_empty() {
            self.pending.extend(done);
            self.wake_owed = true;
        }
        Ok(())
    }

    /// Encrypts what is held while the ciphertext ahead is short (after the handshake only:
    /// the session would keep it all); returns whether it queued anything.
    pub(crate) fn tls_pump(&mut self, id: SocketId) -> bool {
        let ahead_max = AHEAD_BUFFERS * self.bufs.large_size as u64;
        let mut queued = false;
        loop {
            let Some(c) = self.tls_conn(id) else {
                return queued;
            };
            if c.session.is_handshaking() || c.ahead() >= ahead_max {
                return queued;
            }
            let plain_end = c.plain_accepted;
            match c.backlog.held.front_mut() {
                None => {
                    if std::mem::take(&mut c.backlog.end_wanted) {
                        self.tls_end_now(id);
                        queued = true;
                    }
                    return queued;
                }
                Some(Held::Plain(_)) => {
                    let Some(Held::Plain(v)) = c.backlog.held.pop_front() else {
                        unreachable!("matched above");
                    };
                    if self.tls_encrypt(id, &v).is_err() {
                        return queued; // the session failed: TlsFailed tells JS
                    }
                    queued = true;
                }
                Some(Held::File(f)) if f.left == 0 => {
                    let read = f.read;
                    c.backlog.held.pop_front();
                    c.backlog.done.push_back((plain_end, read, 0));
                }
                Some(Held::File(_)) => match self.tls_file_chunk(id) {
                    Some(more) => queued |= more,
                    None => return queued, // no buffer now: the next `Sent` tries again
                },
            }
        }
    }

    /// Reads and encrypts the next chunk of the file at the front of the backlog. `None` when
    /// no pool buffer is free; else whether ciphertext was queued.
    fn tls_file_chunk(&mut self, id: SocketId) -> Option<bool> {
        let large = self.bufs.large_size;
        let (h, ptr) = self.bufs.acquire(LARGE).ok()?;
        let c = self.tls_conn(id).expect("the caller checked");
        let room = c.plain_fitting(large);
        let Some(Held::File(f)) = c.backlog.held.front_mut() else {
            unreachable!("the caller checked");
        };
        let want = f.left.min(room as u64) as usize;
        let r = pread(&f.fd, super::tls::bytes_mut(ptr, want), f.offset);
        let queued = match r {
            Ok(n) if n > 0 => {
                f.offset += n as u64;
                f.left -= n as u64;
                f.read += n as u64;
                // SAFETY: `ptr` is the buffer acquired above; pread filled its first `n` bytes.
                let plain = unsafe { std::slice::from_raw_parts(ptr, n) };
                self.tls_encrypt(id, plain).is_ok()
            }
            // the file ended early (0) or failed: what was read is all there is
            r => {
                let errno = r.err().unwrap_or(0);
                let end = c.plain_accepted;
                let read = f.read;
                c.backlog.held.pop_front();
                c.backlog.done.push_back((end, read, errno));
                false
            }
        };
        self.bufs.release(h);
        Some(queued)
    }

    /// `FileSent` for every file whose last byte's ciphertext was sent.
    pub(crate) fn tls_files_sent(&mut self, id: SocketId) -> Vec<Event> {
        let Some(c) = self.tls_conn(id) else {
            return Vec::new();
        };
        let mut evs = Vec::new();
        while let Some(&(end, bytes, errno)) = c.backlog.done.front() {
            if end > c.plain_sent() {
                break;
            }
            c.backlog.done.pop_front();
            evs.push(Event::FileSent {
                socket: id,
                bytes,
                errno,
            });
        }
        evs
    }

    /// The `end()` that waited for the backlog: close_notify, then the FIN.
    fn tls_end_now(&mut self, id: SocketId) {
        if let Some(c) = self.tls_conn(id) {
            let _ = c.session.end();
        }
        self.queue_tls_output(id);
        if let Some(s) = self.socks.get_mut(id) {
            if s.shut == WriteShut::Open {
                s.shut = WriteShut::Wanted;
            }
        }
        self.mark_dirty(id);
    }
}

impl TlsConn {
    /// The most plaintext whose records fit `cap` bytes of ciphertext.
    pub(crate) fn plain_fitting(&self, cap: usize) -> usize {
        let mut take = cap;
        while take > 0 && self.session.ciphertext_len_bound(take) > cap {
            take -= (self.session.ciphertext_len_bound(take) - cap).min(take);
        }
        take
    }
}
