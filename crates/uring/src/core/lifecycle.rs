//! A socket's life in the core: listen, connect and accept (the backend then arms it),
//! failure, close, and listeners stalled by descriptor exhaustion.

use super::{sock_mut, Backend, Core, Kind, Sock, State};
use crate::addr::SockAddr;
use crate::core::buffers::Buffers;
use crate::core::slab::SocketId;
use crate::error::{EngineError, SysError};
use crate::event::Event;
use crate::sys;
use std::collections::VecDeque;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

/// A stalled listener is retried after this long even when no descriptor was freed.
const ACCEPT_RETRY_AFTER: Duration = Duration::from_millis(100);

/// What `close()` promises: no event of the socket follows but `Closed`. Drops the socket's
/// events not handed out yet (e.g. the `Sent` of a direct write, or `Data` a full poll kept
/// back), gives back the buffers they held and returns the mapped chunks `(window, chunk)` they
/// named, for the caller to release.
fn forget_pending(
    pending: &mut VecDeque<Event>,
    id: SocketId,
    bufs: &mut Buffers,
) -> Vec<(u32, u32)> {
    let mut mapped = Vec::new();
    pending.retain(|ev| {
        if ev.connection() != Some(id) {
            return true;
        }
        match *ev {
            Event::Data { buf, .. } => bufs.release(buf),
            Event::Mapped { window, chunk, .. } => mapped.push((window, chunk)),
            _ => {}
        }
        false
    });
    mapped
}

impl<B: Backend> Core<B> {
    /// Adds a socket for `fd` (bound or connecting to `addr`); on a full table closes `fd`
    /// (EMFILE, reported as `call`).
    fn insert(
        &mut self,
        fd: RawFd,
        kind: Kind,
        state: State,
        addr: &SockAddr,
        call: &'static str,
    ) -> Result<SocketId, SysError> {
        let unix = addr.is_unix();
        match self.socks.insert_with(|_| Sock::new(fd, kind, state, unix)) {
            Some(id) => Ok(id),
            None => {
                sys::close_fd(fd);
                Err(SysError::new(libc::EMFILE, call))
            }
        }
    }

    /// Undoes [`insert`](Self::insert) when the backend could not arm the socket.
    fn discard(&mut self, id: SocketId, fd: RawFd) {
        self.socks.remove(id);
        sys::close_fd(fd);
    }

    /// Listens on `addr`; the backend starts accepting. A Unix socket path is removed from the
    /// filesystem when the listener closes (not when bind failed: the path was someone else's).
    pub fn listen(
        &mut self,
        addr: &SockAddr,
        backlog: u32,
        reuse_port: bool,
    ) -> Result<SocketId, SysError> {
        let fd = sys::listen_socket(addr, backlog, reuse_port, B::NONBLOCKING)?;
        let id = self.insert(fd, Kind::Listener, State::Open, addr, "listen")?;
        if let Some(path) = match addr {
            SockAddr::Unix(u) => u.path(),
            SockAddr::Ip(_) => None,
        } {
            self.unix_files.push((id, path.to_path_buf()));
        }
        if let Err(e) = B::start_accepting(self, id) {
            self.unlink_unix_file(id);
            self.discard(id, fd);
            return Err(e);
        }
        Ok(id)
    }

    /// Listener `id`'s socket file gets read and/or write permission for everyone.
    pub fn allow_all(&mut self, id: SocketId, read: bool, write: bool) -> Result<(), EngineError> {
        sock_mut(&mut self.socks, id)?;
        let Some((_, path)) = self.unix_files.iter().find(|(l, _)| *l == id) else {
            return Err(EngineError::WrongSocketKind);
        };
        Ok(sys::allow_all(path, read, write)?)
    }

    fn unlink_unix_file(&mut self, id: SocketId) {
        if let Some(at) = self.unix_files.iter().position(|(l, _)| *l == id) {
            let (_, path) = self.unix_files.swap_remove(at);
            let _ = std::fs::remove_file(path);
        }
    }

    /// Starts connecting to `addr`; the backend reports `Connected` or `Error`.
    pub fn connect(&mut self, addr: &SockAddr) -> Result<SocketId, SysError> {
        let fd = sys::stream_socket(addr, B::NONBLOCKING)?;
        if self.nodelay && !addr.is_unix() {
            let _ = sys::set_nodelay(fd, true);
        }
        let id = self.insert(fd, Kind::Stream, State::Connecting, addr, "connect")?;
        if let Err(e) = B::start_connect(self, id, addr) {
            self.discard(id, fd);
            return Err(e);
        }
        Ok(id)
    }

    /// Listener `listener` accepted `fd`: adds the connection, lets the backend arm it and
    /// reports `Accepted` (or an `Error` of the listener when the backend can't take it).
    pub fn accepted(&mut self, listener: SocketId, fd: RawFd, out: &mut Vec<Event>) {
        let unix = self.socks.get(listener).is_some_and(|l| l.unix);
        if self.nodelay && !unix {
            let _ = sys::set_nodelay(fd, true);
            self.stats.other_syscalls += 1;
        }
        let Some(id) = self
            .socks
            .insert_with(|_| Sock::new(fd, Kind::Stream, State::Open, unix))
        else {
            sys::close_fd(fd);
            return;
        };
        if let Err(err) = B::adopt(self, id) {
            self.discard(id, fd);
            out.push(Event::Error {
                socket: listener,
                err,
            });
            return;
        }
        self.stats.accepted += 1;
        if self.socks.get(listener).is_some_and(|l| l.zc_recv) {
            let _ = self.set_zerocopy_receive(id, true);
        }
        out.push(Event::Accepted {
            listener,
            socket: id,
        });
    }

    /// Accepting on `listener` failed with `errno`: when descriptors (or memory) ran out, no
    /// new readiness or completion will come for the connections still in the backlog, so
    /// the listener waits in `accept_stalled` and returns true.
    pub fn stall_accept(&mut self, listener: SocketId, errno: i32) -> bool {
        let out_of_resources = matches!(
            errno,
            libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM
        );
        if out_of_resources {
            self.accept_stalled.push((listener, Instant::now()));
        }
        out_of_resources
    }

    /// Lets stalled listeners accept again: all when `fd_freed`, else those that waited long
    /// enough.
    pub fn retry_stalled_accepts(&mut self, fd_freed: bool) {
        if self.accept_stalled.is_empty() {
            return;
        }
        let now = Instant::now();
        let mut keep = Vec::new();
        for (id, since) in std::mem::take(&mut self.accept_stalled) {
            if fd_freed || now.duration_since(since) >= ACCEPT_RETRY_AFTER {
                B::retry_accept(self, id);
            } else {
                keep.push((id, since));
            }
        }
        self.accept_stalled.extend(keep);
    }

    /// Reports the socket's first error (unless it is closing): nothing more is sent, what is
    /// queued is dropped.
    pub fn fail(&mut self, id: SocketId, err: SysError, out: &mut Vec<Event>) {
        let Some(s) = self.socks.get_mut(id) else {
            return;
        };
        if s.failed || s.state == State::Closing {
            return;
        }
        if s.kind == Kind::Stream {
            s.failed = true;
            let dropped = s.sendq.clear(&mut self.bufs);
            if let Some(t) = s.zc.as_mut() {
                t.abort(&dropped, &mut self.bufs);
            }
        }
        B::emit_recv(self, id, Event::Error { socket: id, err }, out);
    }

    /// Closes the socket: its events not handed out yet are dropped, then the backend cancels
    /// and closes; `Closed` follows once the kernel let go.
    pub fn close(&mut self, id: SocketId) -> Result<(), EngineError> {
        sock_mut(&mut self.socks, id)?;
        // node:net removes the file at close(), before the descriptor is gone.
        self.unlink_unix_file(id);
        for (window, chunk) in forget_pending(&mut self.pending, id, &mut self.bufs) {
            let _ = B::release_mapped(self, window, chunk);
        }
        B::close(self, id);
        Ok(())
    }
}
