//! Thin, checked wrappers over the socket system calls both backends share.

use crate::addr::{SockAddr, UnixAddr};
use crate::error::SysError;
use std::mem;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::RawFd;

/// Bytes of `sockaddr_un` before `sun_path`.
const SUN_PATH_OFFSET: usize = mem::offset_of!(libc::sockaddr_un, sun_path);

/// A `sockaddr_storage` filled from a [`SockAddr`], with its length.
pub(crate) struct RawAddr {
    pub storage: libc::sockaddr_storage,
    pub len: libc::socklen_t,
}

impl RawAddr {
    /// Encodes an IPv4, IPv6 or Unix domain address.
    pub fn new(addr: &SockAddr) -> Self {
        // SAFETY: sockaddr_storage is plain old data; all-zero is valid.
        let mut storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
        let len = match addr {
            SockAddr::Unix(u) => {
                // SAFETY: all-zero is a valid sockaddr_un.
                let mut sun: libc::sockaddr_un = unsafe { mem::zeroed() };
                sun.sun_family = libc::AF_UNIX as libc::sa_family_t;
                let name = u.as_bytes();
                // UnixAddr::new checked that the name fits sun_path (a path with its NUL).
                for (d, b) in sun.sun_path.iter_mut().zip(name) {
                    *d = *b as libc::c_char;
                }
                // SAFETY: sockaddr_storage is larger than and suitably aligned for sockaddr_un.
                unsafe {
                    std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sun)
                };
                // A path counts its terminating NUL. An abstract name is NUL-padded to the whole
                // sun_path, as libuv (so node:net) binds and connects them: the kernel compares
                // abstract names by length too, and node:net peers must meet ours.
                if u.is_abstract() {
                    mem::size_of::<libc::sockaddr_un>()
                } else {
                    SUN_PATH_OFFSET + name.len() + 1
                }
            }
            SockAddr::Ip(SocketAddr::V4(a)) => {
                let sin = libc::sockaddr_in {
                    sin_family: libc::AF_INET as libc::sa_family_t,
                    sin_port: a.port().to_be(),
                    sin_addr: libc::in_addr {
                        s_addr: u32::from_ne_bytes(a.ip().octets()),
                    },
                    sin_zero: [0; 8],
                };
                // SAFETY: sockaddr_storage is larger than and suitably aligned for sockaddr_in.
                unsafe {
                    std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin)
                };
                mem::size_of::<libc::sockaddr_in>()
            }
            SockAddr::Ip(SocketAddr::V6(a)) => {
                let sin6 = libc::sockaddr_in6 {
                    sin6_family: libc::AF_INET6 as libc::sa_family_t,
                    sin6_port: a.port().to_be(),
                    sin6_flowinfo: a.flowinfo(),
                    sin6_addr: libc::in6_addr {
                        s6_addr: a.ip().octets(),
                    },
                    sin6_scope_id: a.scope_id(),
                };
                // SAFETY: sockaddr_storage is larger than and suitably aligned for sockaddr_in6.
                unsafe {
                    std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin6)
                };
                mem::size_of::<libc::sockaddr_in6>()
            }
        };
        RawAddr {
            storage,
            len: len as libc::socklen_t,
        }
    }

    /// A pointer usable as `const struct sockaddr *`.
    pub fn as_ptr(&self) -> *const libc::sockaddr {
        (&self.storage as *const libc::sockaddr_storage).cast()
    }

    /// Decodes an AF_INET / AF_INET6 / AF_UNIX address (an unnamed Unix socket, a connecting
    /// client's own end, has an empty name); `None` for other families.
    pub fn to_sock_addr(&self) -> Option<SockAddr> {
        if self.storage.ss_family as libc::c_int == libc::AF_UNIX {
            // SAFETY: the family says the storage holds a sockaddr_un; storage is aligned.
            let sun: &libc::sockaddr_un =
                unsafe { &*(&self.storage as *const libc::sockaddr_storage).cast() };
            let n = (self.len as usize).saturating_sub(SUN_PATH_OFFSET);
            let raw: Vec<u8> = sun.sun_path[..n.min(sun.sun_path.len())]
                .iter()
                .map(|&c| c as u8)
                .collect();
            // A path ends at its NUL; an abstract name (leading NUL) is all `n` bytes but the
            // padding `RawAddr::new` added.
            let name = match raw.first() {
                Some(0) => {
                    let end = raw.iter().rposition(|&b| b != 0).map_or(1, |i| i + 1);
                    &raw[..end]
                }
                _ => raw.split(|&b| b == 0).next().unwrap_or(&[]),
            };
            let unix = if name.is_empty() {
                Some(UnixAddr::unnamed())
            } else {
                UnixAddr::new(name).ok()
            };
            return unix.map(SockAddr::Unix);
        }
        self.to_ip().map(SockAddr::Ip)
    }

    fn to_ip(&self) -> Option<SocketAddr> {
        match self.storage.ss_family as libc::c_int {
            libc::AF_INET => {
                // SAFETY: the family says the storage holds a sockaddr_in; storage is aligned.
                let sin: &libc::sockaddr_in =
                    unsafe { &*(&self.storage as *const libc::sockaddr_storage).cast() };
                let ip = Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
                Some(SocketAddr::V4(SocketAddrV4::new(
                    ip,
                    u16::from_be(sin.sin_port),
                )))
            }
            libc::AF_INET6 => {
                // SAFETY: the family says the storage holds a sockaddr_in6; storage is aligned.
                let sin6: &libc::sockaddr_in6 =
                    unsafe { &*(&self.storage as *const libc::sockaddr_storage).cast() };
                Some(SocketAddr::V6(SocketAddrV6::new(
                    Ipv6Addr::from(sin6.sin6_addr.s6_addr),
                    u16::from_be(sin6.sin6_port),
                    sin6.sin6_flowinfo,
                    sin6.sin6_scope_id,
                )))
            }
            _ => None,
        }
    }
}

/// socket(2): a stream socket (TCP, or Unix domain) for `addr`, close-on-exec, optionally
/// non-blocking.
pub(crate) fn stream_socket(addr: &SockAddr, nonblock: bool) -> Result<RawFd, SysError> {
    let mut ty = libc::SOCK_STREAM | libc::SOCK_CLOEXEC;
    if nonblock {
        ty |= libc::SOCK_NONBLOCK;
    }
    // SAFETY: plain socket(2) call; the result is checked.
    let fd = unsafe { libc::socket(addr.domain(), ty, 0) };
    if fd < 0 {
        return Err(SysError::last("socket"));
    }
    Ok(fd)
}

/// setsockopt(2) with an int value.
pub(crate) fn set_int_opt(
    fd: RawFd,
    level: libc::c_int,
    opt: libc::c_int,
    value: libc::c_int,
) -> Result<(), SysError> {
    // SAFETY: `value` is a valid c_int for the length passed.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            opt,
            (&value as *const libc::c_int).cast(),
            mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(SysError::last("setsockopt"));
    }
    Ok(())
}

/// getsockopt(SO_ERROR): the pending error of a socket (0 if none).
pub(crate) fn take_so_error(fd: RawFd) -> i32 {
    let mut value: libc::c_int = 0;
    let mut len = mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `value`/`len` are valid for writing an int option.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return SysError::last("getsockopt").errno;
    }
    value
}

/// TCP_NODELAY on or off.
pub(crate) fn set_nodelay(fd: RawFd, on: bool) -> Result<(), SysError> {
    set_int_opt(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, on as libc::c_int)
}

/// A bound, listening socket (TCP: SO_REUSEADDR always, SO_REUSEPORT on request; a Unix
/// socket has neither: a path in use is EADDRINUSE, as in node:net).
pub(crate) fn listen_socket(
    addr: &SockAddr,
    backlog: u32,
    reuse_port: bool,
    nonblock: bool,
) -> Result<RawFd, SysError> {
    if reuse_port && addr.is_unix() {
        return Err(SysError::new(libc::EINVAL, "listen"));
    }
    let fd = stream_socket(addr, nonblock)?;
    let setup = || -> Result<(), SysError> {
        if !addr.is_unix() {
            set_int_opt(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
        }
        if reuse_port {
            set_int_opt(fd, libc::SOL_SOCKET, libc::SO_REUSEPORT, 1)?;
        }
        let raw = RawAddr::new(addr);
        // SAFETY: `raw` holds a valid sockaddr of `raw.len` bytes.
        if unsafe { libc::bind(fd, raw.as_ptr(), raw.len) } != 0 {
            return Err(SysError::last("bind"));
        }
        let backlog = backlog.min(i32::MAX as u32) as libc::c_int;
        // SAFETY: plain listen(2) on our socket.
        if unsafe { libc::listen(fd, backlog) } != 0 {
            return Err(SysError::last("listen"));
        }
        Ok(())
    };
    if let Err(e) = setup() {
        close_fd(fd);
        return Err(e);
    }
    Ok(fd)
}

fn name_of(
    fd: RawFd,
    syscall: &'static str,
    f: unsafe extern "C" fn(libc::c_int, *mut libc::sockaddr, *mut libc::socklen_t) -> libc::c_int,
) -> Result<SockAddr, SysError> {
    let mut raw = RawAddr {
        // SAFETY: sockaddr_storage is plain old data; all-zero is valid.
        storage: unsafe { mem::zeroed() },
        len: mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t,
    };
    // SAFETY: `raw.storage` is writable for `raw.len` bytes; `f` is getsockname/getpeername.
    let rc = unsafe {
        f(
            fd,
            (&mut raw.storage as *mut libc::sockaddr_storage).cast(),
            &mut raw.len,
        )
    };
    if rc != 0 {
        return Err(SysError::last(syscall));
    }
    raw.to_sock_addr()
        .ok_or(SysError::new(libc::EAFNOSUPPORT, syscall))
}

/// getsockname(2).
pub(crate) fn local_addr(fd: RawFd) -> Result<SockAddr, SysError> {
    name_of(fd, "getsockname", libc::getsockname)
}

/// getpeername(2).
pub(crate) fn peer_addr(fd: RawFd) -> Result<SockAddr, SysError> {
    name_of(fd, "getpeername", libc::getpeername)
}

/// Adds read and/or write permission for everyone to a Unix socket's file (node:net's
/// `readableAll` / `writableAll`); only ever adds bits. Errors: syscall "chmod".
pub(crate) fn allow_all(path: &std::path::Path, read: bool, write: bool) -> Result<(), SysError> {
    use std::os::unix::fs::PermissionsExt;
    let want = if read { 0o444 } else { 0 } | if write { 0o222 } else { 0 };
    let errno = |e: std::io::Error| SysError::new(e.raw_os_error().unwrap_or(libc::EIO), "chmod");
    let mode = std::fs::metadata(path).map_err(errno)?.permissions().mode();
    if mode & want == want {
        return Ok(());
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode | want)).map_err(errno)
}

/// close(2), ignoring errors (the descriptor is gone either way on Linux).
pub(crate) fn close_fd(fd: RawFd) {
    // SAFETY: the caller owns `fd` and never uses it again.
    unsafe { libc::close(fd) };
}

/// A non-blocking, close-on-exec eventfd.
pub(crate) fn eventfd() -> Result<RawFd, SysError> {
    // SAFETY: plain eventfd(2) call; the result is checked.
    let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
    if fd < 0 {
        return Err(SysError::last("eventfd"));
    }
    Ok(fd)
}

/// Adds one to an eventfd (makes it readable).
pub(crate) fn eventfd_signal(fd: RawFd) {
    let one: u64 = 1;
    // SAFETY: writes 8 bytes from a valid u64.
    unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
}

/// Whether `fd` is readable right now (poll(2) with a zero timeout).
pub(crate) fn readable_now(fd: RawFd) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, zero timeout.
    unsafe { libc::poll(&mut p, 1, 0) == 1 }
}

/// Reads (and so clears) an eventfd; true if it was signalled.
pub(crate) fn eventfd_clear(fd: RawFd) -> bool {
    let mut value: u64 = 0;
    // SAFETY: reads 8 bytes into a valid u64.
    let n = unsafe { libc::read(fd, (&mut value as *mut u64).cast(), 8) };
    n == 8
}

/// Counts this process's open file descriptors (entries of /proc/self/fd).
pub fn open_fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_addr_round_trips() {
        for s in [
            "127.0.0.1:8080",
            "[::1]:443",
            "[fe80::1%2]:1",
            "unix:/tmp/x.sock",
            "unix:\0abstract",
        ] {
            let a: SockAddr = s.parse().unwrap();
            assert_eq!(RawAddr::new(&a).to_sock_addr(), Some(a), "{s}");
        }
    }
}
