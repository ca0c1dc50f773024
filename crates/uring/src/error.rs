//! Errors: [`SysError`] (a failed system call, shaped like Node's system errors) and
//! [`EngineError`] (everything an engine call can fail with), each with a stable `code()`.

use std::fmt;
use zerosock_pool::PoolError;

/// A failed system call: the errno and the call's name, like Node's `err.errno` / `err.syscall`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct SysError {
    /// The positive errno value (e.g. `libc::ECONNREFUSED`).
    pub errno: i32,
    /// The system call as Node names it: "connect", "read", "write", "accept", "listen", ...
    pub syscall: &'static str,
}

impl SysError {
    /// A new error from a positive errno.
    pub fn new(errno: i32, syscall: &'static str) -> Self {
        SysError { errno, syscall }
    }

    /// The error of the last failed libc call on this thread.
    pub fn last(syscall: &'static str) -> Self {
        let errno = std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO);
        SysError { errno, syscall }
    }

    /// The errno's symbolic name, e.g. "ECONNREFUSED" (Node's `err.code`).
    pub fn code(&self) -> &'static str {
        errno_name(self.errno)
    }
}

impl fmt::Display for SysError {
    /// Formats like Node: `connect ECONNREFUSED`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.syscall, self.code())
    }
}

impl std::error::Error for SysError {}

impl From<SysError> for std::io::Error {
    fn from(e: SysError) -> Self {
        std::io::Error::from_raw_os_error(e.errno)
    }
}

/// The symbolic name of an errno ("EUNKNOWN" for values not in the table).
pub fn errno_name(errno: i32) -> &'static str {
    match errno {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::EINVAL => "EINVAL",
        libc::ENFILE => "ENFILE",
        libc::EMFILE => "EMFILE",
        libc::ENOSPC => "ENOSPC",
        libc::EPIPE => "EPIPE",
        libc::ENOSYS => "ENOSYS",
        libc::ENOTSOCK => "ENOTSOCK",
        libc::EMSGSIZE => "EMSGSIZE",
        libc::EPROTOTYPE => "EPROTOTYPE",
        libc::ENOPROTOOPT => "ENOPROTOOPT",
        libc::EPROTONOSUPPORT => "EPROTONOSUPPORT",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        libc::EADDRINUSE => "EADDRINUSE",
        libc::EADDRNOTAVAIL => "EADDRNOTAVAIL",
        libc::ENETDOWN => "ENETDOWN",
        libc::ENETUNREACH => "ENETUNREACH",
        libc::ENETRESET => "ENETRESET",
        libc::ECONNABORTED => "ECONNABORTED",
        libc::ECONNRESET => "ECONNRESET",
        libc::ENOBUFS => "ENOBUFS",
        libc::EISCONN => "EISCONN",
        libc::ENOTCONN => "ENOTCONN",
        libc::ESHUTDOWN => "ESHUTDOWN",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::ECONNREFUSED => "ECONNREFUSED",
        libc::EHOSTDOWN => "EHOSTDOWN",
        libc::EHOSTUNREACH => "EHOSTUNREACH",
        libc::EALREADY => "EALREADY",
        libc::EINPROGRESS => "EINPROGRESS",
        libc::ECANCELED => "ECANCELED",
        _ => "EUNKNOWN",
    }
}

/// Everything an engine call can fail with.
#[derive(Debug)]
pub enum EngineError {
    /// A system call failed.
    Sys(SysError),
    /// The socket was closed (or is closing) by `close()`; code `ERR_ZEROSOCK_SOCKET_CLOSED`.
    SocketClosed,
    /// The id names no live socket (never issued, or stale after `Closed`); code
    /// `ERR_ZEROSOCK_BAD_SOCKET`.
    BadSocket,
    /// The operation doesn't apply to this socket (e.g. `send` on a listener); code
    /// `ERR_ZEROSOCK_WRONG_SOCKET_KIND`.
    WrongSocketKind,
    /// An argument is out of range (offset/len outside the buffer, bad config); code
    /// `ERR_ZEROSOCK_INVALID_ARGUMENT`.
    InvalidArgument(&'static str),
    /// The requested backend can't run here (e.g. io_uring disabled); code
    /// `ERR_ZEROSOCK_BACKEND_UNAVAILABLE`.
    BackendUnavailable(String),
    /// The buffer pool refused (exhausted, bad handle, ...); code is the pool's.
    Pool(PoolError),
    /// A TLS failure: a config that cannot be built, or a session that failed (its code is
    /// node:tls's, e.g. `ERR_OSSL_PEM_NO_START_LINE`, `DEPTH_ZERO_SELF_SIGNED_CERT`).
    Tls(zerosock_tls::TlsError),
}

impl EngineError {
    /// Stable code: the errno name for `Sys`, `ERR_ZEROSOCK_*` otherwise.
    pub fn code(&self) -> &'static str {
        match self {
            EngineError::Sys(e) => e.code(),
            EngineError::SocketClosed => "ERR_ZEROSOCK_SOCKET_CLOSED",
            EngineError::BadSocket => "ERR_ZEROSOCK_BAD_SOCKET",
            EngineError::WrongSocketKind => "ERR_ZEROSOCK_WRONG_SOCKET_KIND",
            EngineError::InvalidArgument(_) => "ERR_ZEROSOCK_INVALID_ARGUMENT",
            EngineError::BackendUnavailable(_) => "ERR_ZEROSOCK_BACKEND_UNAVAILABLE",
            EngineError::Pool(e) => e.code(),
            EngineError::Tls(e) => e.code(),
        }
    }
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EngineError::Sys(e) => write!(f, "{e}"),
            EngineError::SocketClosed => f.write_str("the socket is closed"),
            EngineError::BadSocket => f.write_str("no such socket (stale or never issued id)"),
            EngineError::WrongSocketKind => {
                f.write_str("the operation does not apply to this kind of socket")
            }
            EngineError::InvalidArgument(what) => write!(f, "invalid argument: {what}"),
            EngineError::BackendUnavailable(why) => write!(f, "backend unavailable: {why}"),
            EngineError::Pool(e) => write!(f, "buffer pool: {e}"),
            EngineError::Tls(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for EngineError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            EngineError::Sys(e) => Some(e),
            EngineError::Pool(e) => Some(e),
            _ => None,
        }
    }
}

impl From<SysError> for EngineError {
    fn from(e: SysError) -> Self {
        EngineError::Sys(e)
    }
}

impl From<zerosock_tls::TlsError> for EngineError {
    fn from(e: zerosock_tls::TlsError) -> Self {
        EngineError::Tls(e)
    }
}

impl From<PoolError> for EngineError {
    fn from(e: PoolError) -> Self {
        EngineError::Pool(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sys_error_looks_like_node() {
        let e = SysError::new(libc::ECONNREFUSED, "connect");
        assert_eq!(e.code(), "ECONNREFUSED");
        assert_eq!(e.to_string(), "connect ECONNREFUSED");
        assert_eq!(errno_name(99_999), "EUNKNOWN");
    }

    #[test]
    fn engine_error_codes_are_stable() {
        assert_eq!(
            EngineError::SocketClosed.code(),
            "ERR_ZEROSOCK_SOCKET_CLOSED"
        );
        assert_eq!(EngineError::BadSocket.code(), "ERR_ZEROSOCK_BAD_SOCKET");
        assert_eq!(
            EngineError::Sys(SysError::new(libc::ECONNRESET, "read")).code(),
            "ECONNRESET"
        );
    }
}
