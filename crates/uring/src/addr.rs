//! [`SockAddr`]: where a socket listens or connects — an IP address and port, or a Unix
//! domain socket (a filesystem path, or a Linux abstract name).

use crate::error::{EngineError, SysError};
use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// The most bytes of a Unix socket name: `sun_path` is 108 bytes, and a filesystem path needs
/// its terminating NUL inside it (an abstract name uses all 108, its leading NUL included).
pub const UNIX_PATH_MAX: usize = 108;

/// A listen or connect address.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum SockAddr {
    /// TCP over IPv4 or IPv6.
    Ip(SocketAddr),
    /// A Unix domain stream socket.
    Unix(UnixAddr),
}

/// The name of a Unix domain socket: a filesystem path, or (leading NUL byte) a Linux abstract
/// name, which lives in the network namespace, not the filesystem, and vanishes with its socket;
/// or no name at all (a connecting client's own end), which only addresses report.
///
/// Abstract names are bound and connected NUL-padded to the whole `sun_path` (108 bytes), the
/// way libuv and so node:net do, so node:net peers meet them; a peer that uses the exact length
/// (e.g. Rust's `SocketAddr::from_abstract_name` of the bare name) names a different socket.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct UnixAddr {
    bytes: Box<[u8]>,
}

impl UnixAddr {
    /// A name from its bytes, exactly as the kernel sees them (`\0name` is abstract).
    ///
    /// Errors (syscall "bind"): `EINVAL` for an empty name or a path with a NUL byte inside,
    /// `ENAMETOOLONG` for a name that does not fit `sun_path` — never silently truncated.
    pub fn new(bytes: &[u8]) -> Result<Self, SysError> {
        let abstract_name = bytes.first() == Some(&0);
        let fits = if abstract_name {
            bytes.len() <= UNIX_PATH_MAX
        } else {
            bytes.len() < UNIX_PATH_MAX
        };
        if bytes.is_empty() || (!abstract_name && bytes.contains(&0)) {
            return Err(SysError::new(libc::EINVAL, "bind"));
        }
        if !fits {
            return Err(SysError::new(libc::ENAMETOOLONG, "bind"));
        }
        Ok(UnixAddr {
            bytes: bytes.into(),
        })
    }

    /// The name of a socket that has none (what `local_addr` of a Unix client gives).
    pub(crate) fn unnamed() -> Self {
        UnixAddr {
            bytes: Box::new([]),
        }
    }

    /// True for a socket without a name.
    pub fn is_unnamed(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The name's bytes (with the leading NUL of an abstract name; empty when unnamed).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// True for a Linux abstract name.
    pub fn is_abstract(&self) -> bool {
        self.bytes.first() == Some(&0)
    }

    /// The filesystem path (None for an abstract name or an unnamed socket).
    pub fn path(&self) -> Option<&Path> {
        (!self.is_abstract() && !self.is_unnamed())
            .then(|| Path::new(std::ffi::OsStr::from_bytes(&self.bytes)))
    }
}

impl fmt::Debug for UnixAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(&self.bytes))
    }
}

impl SockAddr {
    /// An IP address (`"::1"`, `"127.0.0.1"`; not a name) and a port as JS gives them.
    /// Errors: `InvalidArgument`.
    pub fn from_ip_port(host: &str, port: u32) -> Result<SockAddr, EngineError> {
        let ip: IpAddr = host
            .parse()
            .map_err(|_| EngineError::InvalidArgument("host must be an IP address"))?;
        let port = u16::try_from(port)
            .map_err(|_| EngineError::InvalidArgument("port must be 0..65535"))?;
        Ok(SockAddr::Ip(SocketAddr::new(ip, port)))
    }

    /// A Unix domain socket address from the name's bytes (see [`UnixAddr::new`]).
    pub fn unix(name: &[u8]) -> Result<SockAddr, SysError> {
        UnixAddr::new(name).map(SockAddr::Unix)
    }

    /// True for a Unix domain socket address.
    pub fn is_unix(&self) -> bool {
        matches!(self, SockAddr::Unix(_))
    }

    /// The IP address, if it is one.
    pub fn ip(&self) -> Option<SocketAddr> {
        match self {
            SockAddr::Ip(a) => Some(*a),
            SockAddr::Unix(_) => None,
        }
    }

    /// The socket(2) domain.
    pub(crate) fn domain(&self) -> libc::c_int {
        match self {
            SockAddr::Ip(SocketAddr::V4(_)) => libc::AF_INET,
            SockAddr::Ip(SocketAddr::V6(_)) => libc::AF_INET6,
            SockAddr::Unix(_) => libc::AF_UNIX,
        }
    }
}

impl fmt::Debug for SockAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SockAddr::Ip(a) => write!(f, "{a}"),
            SockAddr::Unix(u) => write!(f, "unix:{u:?}"),
        }
    }
}

/// `"127.0.0.1:80"`, `"[::1]:80"`, or `"unix:/path"` / `"unix:\0name"` for a Unix socket.
impl std::str::FromStr for SockAddr {
    type Err = SysError;
    fn from_str(s: &str) -> Result<Self, SysError> {
        match s.strip_prefix("unix:") {
            Some(name) => Ok(SockAddr::Unix(UnixAddr::new(name.as_bytes())?)),
            None => s
                .parse()
                .map(SockAddr::Ip)
                .map_err(|_| SysError::new(libc::EINVAL, "bind")),
        }
    }
}

impl From<SocketAddr> for SockAddr {
    fn from(a: SocketAddr) -> Self {
        SockAddr::Ip(a)
    }
}

impl From<UnixAddr> for SockAddr {
    fn from(a: UnixAddr) -> Self {
        SockAddr::Unix(a)
    }
}

/// So a `SockAddr` from `local_addr()` can be handed to `std::net` directly (IP only).
impl ToSocketAddrs for SockAddr {
    type Iter = std::option::IntoIter<SocketAddr>;
    fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
        match self {
            SockAddr::Ip(a) => Ok(Some(*a).into_iter()),
            SockAddr::Unix(_) => Err(io::Error::from_raw_os_error(libc::EAFNOSUPPORT)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_not_truncated() {
        assert_eq!(UnixAddr::new(b"").unwrap_err().errno, libc::EINVAL);
        assert_eq!(UnixAddr::new(b"/a\0b").unwrap_err().errno, libc::EINVAL);
        assert!(UnixAddr::new(&[b'a'; UNIX_PATH_MAX - 1]).is_ok());
        let long = UnixAddr::new(&[b'a'; UNIX_PATH_MAX]).unwrap_err();
        assert_eq!(long.errno, libc::ENAMETOOLONG);
        let mut abs = vec![0u8; 1];
        abs.extend_from_slice(&[b'x'; UNIX_PATH_MAX - 1]);
        let a = UnixAddr::new(&abs).unwrap();
        assert!(a.is_abstract() && a.path().is_none());
        abs.push(b'y');
        assert!(UnixAddr::new(&abs).is_err());
        assert!(SockAddr::from_ip_port("::1", 80).unwrap().ip().is_some());
        assert!(
            SockAddr::from_ip_port("localhost", 80).is_err(),
            "names are resolved in JS"
        );
        assert!(SockAddr::from_ip_port("127.0.0.1", 70_000).is_err());
        let p = UnixAddr::new(b"/tmp/x.sock").unwrap();
        assert_eq!(p.path(), Some(Path::new("/tmp/x.sock")));
    }
}
