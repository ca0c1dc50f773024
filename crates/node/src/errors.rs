//! The one error-mapping function, [`to_napi`]: every crate error becomes a JS `Error` whose
//! message carries what `ts/errors.ts` needs to rebuild it — `ERR_ZEROSOCK_…: message` for a
//! zerosock error (→ `ZerosockError` with that `code`), `SYSERR <errno> <syscall>` for a failed
//! system call (→ a Node-style system error). napi-rs only throws `Status` codes itself.

use zerosock_pool::PoolError;
use zerosock_uring::backend_choice::InvalidBackend;
use zerosock_uring::{EngineError, SysError};

/// What a failure looks like to JS.
pub enum JsFailure {
    /// A zerosock error with a stable code.
    Coded(&'static str, String),
    /// A system call failed with `errno`.
    Sys(i32, &'static str),
}

/// Any error with a stable zerosock code (implement it for a crate's error type to use
/// [`to_napi`] with it; `PoolError` and the engine's errors are mapped below).
pub trait Coded: std::fmt::Display {
    /// The stable `ERR_ZEROSOCK_…` code.
    fn code(&self) -> &'static str;
}

impl<T: Coded> From<T> for JsFailure {
    fn from(e: T) -> Self {
        JsFailure::Coded(e.code(), e.to_string())
    }
}

impl From<InvalidBackend> for JsFailure {
    fn from(e: InvalidBackend) -> Self {
        JsFailure::Coded(e.code(), e.to_string())
    }
}

impl From<PoolError> for JsFailure {
    fn from(e: PoolError) -> Self {
        JsFailure::Coded(e.code(), e.to_string())
    }
}

impl From<SysError> for JsFailure {
    fn from(e: SysError) -> Self {
        JsFailure::Sys(e.errno, e.syscall)
    }
}

impl From<EngineError> for JsFailure {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Sys(s) => s.into(),
            EngineError::Pool(p) => p.into(),
            other => JsFailure::Coded(other.code(), other.to_string()),
        }
    }
}

/// Converts a crate error into the JS error `ts/errors.ts` decodes.
pub fn to_napi<E: Into<JsFailure>>(err: E) -> napi::Error {
    let message = match err.into() {
        JsFailure::Coded(code, msg) if msg.starts_with(code) => msg,
        JsFailure::Coded(code, msg) => format!("{code}: {msg}"),
        JsFailure::Sys(errno, syscall) => format!("SYSERR {errno} {syscall}"),
    };
    napi::Error::new(napi::Status::GenericFailure, message)
}

/// A coded error made here (bad argument, missing region, …).
pub fn coded(code: &'static str, msg: impl Into<String>) -> napi::Error {
    to_napi(JsFailure::Coded(code, msg.into()))
}
