//! File segments (`sendFile`) on io_uring: IORING_OP_SPLICE from the file into a pipe, then
//! from the pipe into the socket, one splice in flight per socket (it takes the place of the
//! socket's send, so order with the queue's other segments is kept). The pipes come from a
//! small per-engine cache and are grown to [`PIPE_SIZE`] once.
//!
//! A pipe is given back to the cache only empty; one still holding bytes (the socket failed
//! or closed mid-file) is closed with its segment.

use super::userdata::{encode, Op};
use super::UringBackend;
use crate::core::slab::SocketId;
use crate::core::{Core, State};
use crate::error::SysError;
use crate::event::Event;
use ::io_uring::{opcode, types};
use std::os::fd::RawFd;

/// Pipe capacity asked for (the default `/proc/sys/fs/pipe-max-size`).
const PIPE_SIZE: i32 = 1 << 20;
/// Empty pipes kept for reuse.
const PIPES_KEPT: usize = 4;

/// Empty pipes (read end, write end, capacity).
#[derive(Default)]
pub(super) struct PipeCache {
    free: Vec<(RawFd, RawFd, u32)>,
}

impl PipeCache {
    /// An empty pipe: a cached one or a new one.
    /// Errors: the errno of pipe2.
    fn take(&mut self) -> Result<(RawFd, RawFd, u32), i32> {
        if let Some(p) = self.free.pop() {
            return Ok(p);
        }
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: `fds` has room for the two descriptors pipe2 writes.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EMFILE));
        }
        // SAFETY: fcntl on the pipe we just made; failure leaves its default size.
        let mut cap = unsafe { libc::fcntl(fds[1], libc::F_SETPIPE_SZ, PIPE_SIZE) };
        if cap <= 0 {
            // SAFETY: as above.
            cap = unsafe { libc::fcntl(fds[1], libc::F_GETPIPE_SZ) };
        }
        Ok((fds[0], fds[1], cap.max(4096) as u32))
    }

    /// Gives back an empty pipe.
    fn give(&mut self, p: (RawFd, RawFd, u32)) {
        if self.free.len() < PIPES_KEPT {
            self.free.push(p);
        } else {
            crate::sys::close_fd(p.0);
            crate::sys::close_fd(p.1);
        }
    }

    /// Engine teardown.
    pub(super) fn close_all(&mut self) {
        for (r, w, _) in self.free.drain(..) {
            crate::sys::close_fd(r);
            crate::sys::close_fd(w);
        }
    }
}

impl Core<UringBackend> {
    /// The front of the queue is a file: splice its next piece (the caller checked that the
    /// socket is open and nothing of it is in flight).
    pub(super) fn kick_file(&mut self, id: SocketId) {
        let s = self.socks.get_mut(id).expect("caller checked");
        let sock_fd = s.fd;
        let f = s.sendq.front_file().expect("caller checked");
        if f.pipe.is_none() {
            match self.be.pipes.take() {
                Ok(p) => {
                    f.pipe = Some((p.0, p.1));
                    f.pipe_cap = p.2;
                }
                Err(e) => {
                    // No pipe (descriptors ran out): the file fails, what follows goes on.
                    let f = s.sendq.pop_file().expect("front is a file");
                    self.pending.push_back(Event::FileSent {
                        socket: id,
                        bytes: f.sent,
                        errno: e,
                    });
                    self.wake_owed = true;
                    self.mark_dirty(id);
                    return;
                }
            }
        }
        let (r, w) = f.pipe.expect("set above");
        let sqe = if f.in_pipe == 0 {
            let n = f.left.min(u64::from(f.pipe_cap)) as u32;
            opcode::Splice::new(types::Fd(f.fd), f.offset as i64, types::Fd(w), -1, n)
                .flags(libc::SPLICE_F_MOVE)
                .build()
        } else {
            let more = if f.left > 0 { libc::SPLICE_F_MORE } else { 0 };
            opcode::Splice::new(types::Fd(r), -1, types::Fd(sock_fd), -1, f.in_pipe)
                .flags(libc::SPLICE_F_MOVE | more)
                .build()
        };
        s.be.send_inflight = true;
        s.be.inflight += 1;
        self.be.ring.push(sqe.user_data(encode(Op::Splice, id)));
    }

    /// A splice of the front file segment completed.
    pub(super) fn on_splice(&mut self, id: SocketId, res: i32, out: &mut Vec<Event>) {
        let s = self.socks.get_mut(id).expect("caller checked");
        s.be.send_inflight = false;
        if s.state != State::Open || s.failed {
            return; // the queue (and the segment with its pipe) is gone already
        }
        let Some(f) = s.sendq.front_file() else {
            return;
        };
        if f.in_pipe == 0 {
            // file → pipe
            if res > 0 {
                let k = res as u32;
                f.in_pipe = k;
                f.offset += u64::from(k);
                f.left -= u64::from(k);
            } else if res == -libc::ECANCELED {
                return;
            } else {
                // 0: the file is shorter than asked for; < 0: reading it failed.
                self.finish_file(id, -res.min(0), out);
                self.kick_send(id);
                return;
            }
        } else if res > 0 {
            // pipe → socket
            let k = res as u32;
            f.in_pipe -= k;
            f.sent += u64::from(k);
            let done = f.in_pipe == 0 && f.left == 0;
            self.sent(id, u64::from(k), out);
            if done {
                self.finish_file(id, 0, out);
            }
        } else if res != -libc::ECANCELED {
            let e = if res == 0 { libc::EPIPE } else { -res };
            self.fail(id, SysError::new(e, "write"), out);
            return;
        } else {
            return;
        }
        self.kick_send(id);
    }

    /// Pops the front file segment, keeping its pipe if empty, and reports it.
    fn finish_file(&mut self, id: SocketId, errno: i32, out: &mut Vec<Event>) {
        let s = self.socks.get_mut(id).expect("caller checked");
        let mut f = s.sendq.pop_file().expect("front is a file");
        if f.in_pipe == 0 {
            if let Some((r, w)) = f.pipe.take() {
                self.be.pipes.give((r, w, f.pipe_cap));
            }
        }
        out.push(Event::FileSent {
            socket: id,
            bytes: f.sent,
            errno,
        });
    }
}
