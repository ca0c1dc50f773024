//! TCP_ZEROCOPY_RECEIVE (epoll backend): received pages mapped into a read-only window of the
//! socket, plus a "hybrid copy buffer" for the bytes that can't be mapped, in one getsockopt.
//!
//! Each socket that opts in gets one `mmap(PROT_READ, MAP_SHARED)` of its descriptor, cut into
//! chunks. A getsockopt maps whole received pages into one free chunk and copies up to one pool
//! buffer of stragglers (unaligned or short data) into the copy buffer; what is left needs a
//! plain read. Bytes arrive in that order: mapped, copy buffer, plain read. A chunk is lent until
//! its release, then zapped with MADV_DONTNEED, which is what the TLB_CLEAN_HINT flag promises
//! the kernel (so it skips the zap under the socket lock).
//!
//! Lifetimes: the mapping holds a reference to the socket's file, so the connection really
//! closes only once the mapping is gone. When the socket closes and no chunk is lent, the
//! window is replaced by an anonymous PROT_NONE mapping (dropping the file) and unmapped when the
//! last [`MappedMemory`] handle goes.

use std::os::fd::RawFd;
use std::rc::Rc;

/// getsockopt(IPPROTO_TCP, TCP_ZEROCOPY_RECEIVE) (linux/tcp.h).
const TCP_ZEROCOPY_RECEIVE: libc::c_int = 35;
/// The caller zapped the range already; the kernel need not (linux/tcp.h).
const TCP_RECEIVE_ZEROCOPY_FLAG_TLB_CLEAN_HINT: u32 = 1;
/// Bytes per chunk (a multiple of the page size).
pub(crate) const CHUNK_LEN: usize = 256 * 1024;
/// Chunks per socket window.
pub(crate) const CHUNKS: u32 = 16;

/// `struct tcp_zerocopy_receive` (linux/tcp.h, 64 bytes since Linux 5.11).
#[repr(C)]
#[derive(Default)]
struct TcpZeroCopyReceive {
    address: u64,
    length: u32,
    recv_skip_hint: u32,
    inq: u32,
    err: i32,
    copybuf_address: u64,
    copybuf_len: i32,
    flags: u32,
    msg_control: u64,
    msg_controllen: u64,
    msg_flags: u32,
    reserved: u32,
}

/// What one getsockopt did.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ZcReceived {
    /// Bytes mapped at the chunk's start.
    pub mapped: u32,
    /// Bytes copied into the copy buffer (after the mapped ones in stream order).
    pub copied: u32,
    /// Bytes after those that need a plain read.
    pub skip: u32,
    /// Bytes left in the receive queue.
    pub inq: u32,
    /// A pending socket error (positive errno), 0 if none.
    pub err: i32,
}

/// One TCP_ZEROCOPY_RECEIVE call. Errors: the errno (EIO: nothing left and the peer finished).
///
/// # Safety
/// `addr..addr + len` must be a clean (no pages present) part of an mmap of `fd`, and
/// `copybuf..copybuf + copybuf_len` writable memory owned by the caller.
pub(crate) unsafe fn receive(
    fd: RawFd,
    addr: *mut u8,
    len: usize,
    copybuf: *mut u8,
    copybuf_len: usize,
) -> Result<ZcReceived, i32> {
    let mut zc = TcpZeroCopyReceive {
        address: addr as u64,
        length: len as u32,
        copybuf_address: copybuf as u64,
        copybuf_len: copybuf_len.min(i32::MAX as usize) as i32,
        flags: TCP_RECEIVE_ZEROCOPY_FLAG_TLB_CLEAN_HINT,
        ..TcpZeroCopyReceive::default()
    };
    let mut optlen = std::mem::size_of::<TcpZeroCopyReceive>() as libc::socklen_t;
    // SAFETY: `zc`/`optlen` are valid for reads and writes of the struct; the addresses inside
    // are the caller's (see the function's contract).
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::IPPROTO_TCP,
            TCP_ZEROCOPY_RECEIVE,
            (&mut zc as *mut TcpZeroCopyReceive).cast(),
            &mut optlen,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO));
    }
    Ok(ZcReceived {
        mapped: zc.length,
        copied: zc.copybuf_len.max(0) as u32,
        skip: zc.recv_skip_hint,
        inq: zc.inq,
        err: zc.err,
    })
}

/// The address range of a socket window; unmapped when the last handle goes.
struct Window {
    base: *mut u8,
    len: usize,
}

impl Drop for Window {
    fn drop(&mut self) {
        // SAFETY: our mapping (TCP window or its PROT_NONE replacement); nobody uses it now.
        unsafe { libc::munmap(self.base.cast(), self.len) };
    }
}

/// A handle keeping a receive window's address range reserved (a binding gives one to each
/// external buffer it makes over a mapped chunk, so the range is never reused under it).
#[derive(Clone)]
pub struct MappedMemory(Rc<Window>);

impl MappedMemory {
    /// Start of the window.
    pub fn base(&self) -> *const u8 {
        self.0.base
    }

    /// Length of the window in bytes.
    pub fn len(&self) -> usize {
        self.0.len
    }

    /// Whether the window is empty (never).
    pub fn is_empty(&self) -> bool {
        self.0.len == 0
    }
}

impl std::fmt::Debug for MappedMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MappedMemory")
            .field("base", &self.0.base)
            .field("len", &self.0.len)
            .finish()
    }
}

/// One socket's receive window.
pub(crate) struct RecvWindow {
    mem: MappedMemory,
    lent: Vec<bool>,
    free: Vec<u32>,
    /// The socket closed: retire the window once no chunk is lent.
    pub socket_closed: bool,
}

impl RecvWindow {
    /// Maps a window of `fd`. Errors: the errno of mmap (e.g. ENODEV: not TCP).
    pub fn map(fd: RawFd) -> Result<RecvWindow, i32> {
        let len = CHUNK_LEN * CHUNKS as usize;
        // SAFETY: a fresh shared read-only mapping of the socket; the kernel picks the address.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED,
                fd,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::ENOMEM));
        }
        Ok(RecvWindow {
            mem: MappedMemory(Rc::new(Window {
                base: base.cast(),
                len,
            })),
            lent: vec![false; CHUNKS as usize],
            free: (0..CHUNKS).rev().collect(),
            socket_closed: false,
        })
    }

    /// A clean chunk to map into, and its address.
    pub fn take_chunk(&mut self) -> Option<(u32, *mut u8)> {
        let c = self.free.pop()?;
        Some((c, self.chunk_ptr(c)))
    }

    /// Gives back a chunk the kernel mapped nothing into (still clean).
    pub fn untake_chunk(&mut self, c: u32) {
        self.free.push(c);
    }

    /// The chunk now holds mapped pages lent to the user.
    pub fn lend(&mut self, c: u32) {
        self.lent[c as usize] = true;
    }

    fn chunk_ptr(&self, c: u32) -> *mut u8 {
        // SAFETY: `c < CHUNKS`, so the offset stays inside the window.
        unsafe { self.mem.0.base.add(c as usize * CHUNK_LEN) }
    }

    /// The address of lent chunk `c`, and a handle keeping the range reserved.
    pub fn lent_chunk(&self, c: u32) -> Option<(*const u8, MappedMemory)> {
        if *self.lent.get(c as usize)? {
            Some((self.chunk_ptr(c), self.mem.clone()))
        } else {
            None
        }
    }

    /// The user is done with chunk `c`: zap its pages so the kernel can map into it again.
    /// Returns false for a chunk that is not lent.
    pub fn release(&mut self, c: u32) -> bool {
        if !self.lent.get(c as usize).copied().unwrap_or(false) {
            return false;
        }
        self.lent[c as usize] = false;
        if !self.socket_closed {
            // SAFETY: the chunk is inside our window and nobody reads it any more (the binding
            // detached every view of it before releasing).
            unsafe { libc::madvise(self.chunk_ptr(c).cast(), CHUNK_LEN, libc::MADV_DONTNEED) };
            self.free.push(c);
        }
        true
    }

    /// Whether some chunk is lent.
    pub fn has_lent(&self) -> bool {
        self.lent.iter().any(|&l| l)
    }

    /// Whether the window can go: socket closed and nothing lent.
    pub fn retirable(&self) -> bool {
        self.socket_closed && !self.has_lent()
    }

    /// Drops the window's hold on the socket file: the range becomes anonymous PROT_NONE memory
    /// (unmapped when the last [`MappedMemory`] goes).
    pub fn retire(self) {
        let w = &self.mem.0;
        // SAFETY: replaces exactly our own window; no lent chunk is read any more.
        unsafe {
            libc::mmap(
                w.base.cast(),
                w.len,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
    }
}
