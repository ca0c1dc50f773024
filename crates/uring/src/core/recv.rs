//! The receive side both backends share: copy-break delivery of received bytes, sockets
//! starved of buffers, pause / resume, buffers given back.

use super::{sock_mut, Backend, Core, Kind};
use crate::core::buffers::{Buffers, SMALL};
use crate::core::slab::SocketId;
use crate::error::EngineError;
use crate::event::Event;
use zerosock_pool::BufHandle;

/// If `len < threshold`, copies the `len` bytes at `src` into a fresh small buffer and
/// returns it; `None` means "deliver the large buffer itself" (long read or no small buffer).
fn copy_break(
    bufs: &mut Buffers,
    src: *const u8,
    len: usize,
    threshold: usize,
) -> Option<BufHandle> {
    if len >= threshold || len > bufs.small_size {
        return None;
    }
    let (h, dst) = bufs.acquire(SMALL).ok()?;
    // SAFETY: `src` holds `len` received bytes in a buffer we own; `dst` is a fresh small buffer
    // of at least `len` bytes; they are different buffers.
    unsafe { std::ptr::copy_nonoverlapping(src, dst, len) };
    Some(h)
}

impl<B: Backend> Core<B> {
    /// `Engine::set_zerocopy_receive`: the backend's, except that a Unix socket (no
    /// TCP_ZEROCOPY_RECEIVE there) keeps the plain receive path, counted in `zc_recv_fallbacks`.
    pub fn set_zerocopy_receive(&mut self, id: SocketId, on: bool) -> Result<bool, EngineError> {
        if sock_mut(&mut self.socks, id)?.unix {
            return self.keep_plain_receive(id, on);
        }
        B::set_zerocopy_receive(self, id, on)
    }

    /// Zerocopy receive asked for where it does not exist: the socket keeps the plain receive
    /// path, its bytes count as copied, and `zc_recv_fallbacks` counts the socket. Returns false
    /// (the mapped path is not active).
    pub fn keep_plain_receive(&mut self, id: SocketId, on: bool) -> Result<bool, EngineError> {
        let s = sock_mut(&mut self.socks, id)?;
        if on && !s.zc_recv && s.kind == Kind::Stream {
            self.stats.zc_recv_fallbacks += 1;
        }
        s.zc_recv = on;
        Ok(false)
    }

    /// Reports `len` bytes received into large buffer `h` (at `ptr`) as `Data`, copied into a
    /// small buffer when shorter than the copy-break. Returns whether `h` went out with the
    /// event; false means it is still the caller's (to recycle or release).
    pub fn deliver_data(
        &mut self,
        id: SocketId,
        (h, ptr): (BufHandle, *mut u8),
        len: usize,
        out: &mut Vec<Event>,
    ) -> bool {
        self.stats.bytes_in += len as u64;
        self.stats.recv_events += 1;
        if self.socks.get(id).is_some_and(|s| s.zc_recv) {
            self.stats.recv_copied_bytes += len as u64;
        }
        let (buf, handed_out) = match copy_break(&mut self.bufs, ptr, len, self.copy_break) {
            Some(small) => {
                self.stats.copy_breaks += 1;
                (small, false)
            }
            None => (h, true),
        };
        let ev = Event::Data {
            socket: id,
            buf,
            offset: 0,
            len: len as u32,
        };
        B::emit_recv(self, id, ev, out);
        handed_out
    }

    /// Socket `id` found no receive buffer: it waits in `starved` until buffers come back.
    pub fn starve(&mut self, id: SocketId) {
        self.stats.recv_buffer_exhausted += 1;
        if let Some(s) = self.socks.get_mut(id) {
            if !s.starved {
                s.starved = true;
                self.starved.push(id);
            }
        }
    }

    /// Stops `Data`/`Eof` events of a stream until [`resume_recv`](Self::resume_recv).
    pub fn pause_recv(&mut self, id: SocketId) -> Result<(), EngineError> {
        let s = sock_mut(&mut self.socks, id)?;
        if s.paused || s.kind != Kind::Stream {
            return Ok(());
        }
        s.paused = true;
        B::recv_paused(self, id);
        Ok(())
    }

    /// Restarts receiving after [`pause_recv`](Self::pause_recv).
    pub fn resume_recv(&mut self, id: SocketId) -> Result<(), EngineError> {
        let s = sock_mut(&mut self.socks, id)?;
        if !s.paused {
            return Ok(());
        }
        s.paused = false;
        B::recv_resumed(self, id);
        Ok(())
    }

    /// Gives back a buffer received in `Event::Data`. Errors: `Pool` (stale / released).
    pub fn release_recv(&mut self, h: BufHandle) -> Result<(), EngineError> {
        self.bufs.release_checked(h)?;
        B::buffers_returned(self);
        Ok(())
    }
}
