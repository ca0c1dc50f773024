//! Which backend to run: the `backend` option, the `ZEROSOCK_BACKEND` environment variable and
//! what the kernel probe found.

use std::fmt;

/// A concrete backend.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum BackendKind {
    /// io_uring: multishot accept/recv, provided buffer rings, SEND_ZC.
    IoUring,
    /// epoll: non-blocking sockets, readv/writev, MSG_ZEROCOPY.
    Epoll,
}

impl BackendKind {
    /// The name used in options, the environment variable and `probe()`.
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::IoUring => "io_uring",
            BackendKind::Epoll => "epoll",
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the user asked for.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum BackendChoice {
    /// io_uring where the probe passes, epoll otherwise.
    Auto,
    /// Exactly this backend (an error if it can't run).
    Only(BackendKind),
}

/// The name of the environment variable that overrides `auto`.
pub const BACKEND_ENV: &str = "ZEROSOCK_BACKEND";

/// The allowed spellings, for error messages.
pub const ALLOWED: &str = "'auto', 'io_uring' or 'epoll'";

/// An unknown backend name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidBackend {
    /// Where the name came from (`ZEROSOCK_BACKEND` or `options.backend`).
    pub source: &'static str,
    /// The rejected value.
    pub value: String,
}

impl InvalidBackend {
    /// Stable error code.
    pub fn code(&self) -> &'static str {
        "ERR_ZEROSOCK_INVALID_BACKEND"
    }
}

impl fmt::Display for InvalidBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} must be {}; got {:?}",
            self.source, ALLOWED, self.value
        )
    }
}

impl std::error::Error for InvalidBackend {}

impl BackendChoice {
    /// Parses `auto`, `io_uring` (also `io-uring`, `uring`) or `epoll`.
    pub fn parse(value: &str, source: &'static str) -> Result<Self, InvalidBackend> {
        match value.trim() {
            "auto" | "" => Ok(BackendChoice::Auto),
            "io_uring" | "io-uring" | "uring" => Ok(BackendChoice::Only(BackendKind::IoUring)),
            "epoll" => Ok(BackendChoice::Only(BackendKind::Epoll)),
            other => Err(InvalidBackend {
                source,
                value: other.to_string(),
            }),
        }
    }

    /// Reads `ZEROSOCK_BACKEND`; unset means `Auto`.
    pub fn from_env() -> Result<Self, InvalidBackend> {
        match std::env::var(BACKEND_ENV) {
            Ok(v) => Self::parse(&v, BACKEND_ENV),
            Err(_) => Ok(BackendChoice::Auto),
        }
    }

    /// The option wins over the environment variable; `auto` in the option defers to the variable.
    pub fn resolve(option: Option<&str>) -> Result<Self, InvalidBackend> {
        match option
            .map(|o| Self::parse(o, "options.backend"))
            .transpose()?
        {
            Some(BackendChoice::Only(k)) => Ok(BackendChoice::Only(k)),
            _ => Self::from_env(),
        }
    }

    /// The backend this choice runs on, given whether io_uring is usable.
    pub fn pick(self, io_uring_usable: bool) -> BackendKind {
        match self {
            BackendChoice::Only(k) => k,
            BackendChoice::Auto if io_uring_usable => BackendKind::IoUring,
            BackendChoice::Auto => BackendKind::Epoll,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_allowed_names() {
        assert_eq!(BackendChoice::parse("auto", "x"), Ok(BackendChoice::Auto));
        assert_eq!(
            BackendChoice::parse("epoll", "x"),
            Ok(BackendChoice::Only(BackendKind::Epoll))
        );
        assert_eq!(
            BackendChoice::parse("io_uring", "x"),
            Ok(BackendChoice::Only(BackendKind::IoUring))
        );
    }

    #[test]
    fn rejects_unknown_names_with_the_allowed_list() {
        let e = BackendChoice::parse("kqueue", "ZEROSOCK_BACKEND").unwrap_err();
        assert_eq!(e.code(), "ERR_ZEROSOCK_INVALID_BACKEND");
        let msg = e.to_string();
        assert!(msg.contains("kqueue") && msg.contains("'epoll'") && msg.contains("'io_uring'"));
    }

    #[test]
    fn auto_falls_back_when_io_uring_is_unusable() {
        assert_eq!(BackendChoice::Auto.pick(false), BackendKind::Epoll);
        assert_eq!(BackendChoice::Auto.pick(true), BackendKind::IoUring);
        assert_eq!(
            BackendChoice::Only(BackendKind::IoUring).pick(false),
            BackendKind::IoUring
        );
    }
}
