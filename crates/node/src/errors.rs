//! The one error-mapping function, [`to_napi`]: every crate error becomes a JS `Error` whose
//! `code` is carried by a napi custom status ([`Code`]) — `ERR_ZEROSOCK_…` for a zerosock
//! error (→ `ZerosockError` in ts/core/errors.ts), the errno's name (`ECONNREFUSED`, with the
//! syscall as the message) for a failed system call (→ a Node-style system error).

use zerosock_pool::PoolError;
use zerosock_ring::RingError;
use zerosock_uring::backend_choice::InvalidBackend;
use zerosock_uring::{errno_name, EngineError, SysError};

/// The `code` of a JS error thrown by the binding.
pub struct Code(pub &'static str);

impl AsRef<str> for Code {
    fn as_ref(&self) -> &str {
        self.0
    }
}

/// A binding call's result: its error's `code` is a [`Code`].
pub type Result<T> = napi::Result<T, Code>;

/// A coded error made here (bad argument, missing region, …).
pub fn coded(code: &'static str, msg: impl Into<String>) -> napi::Error<Code> {
    napi::Error::new(Code(code), msg.into())
}

/// A crate error with its code and message (the message without a leading `code: `).
fn with_code(code: &'static str, e: impl std::fmt::Display) -> napi::Error<Code> {
    let text = e.to_string();
    let msg = text.strip_prefix(code).and_then(|m| m.strip_prefix(": "));
    coded(code, msg.unwrap_or(&text))
}

/// Errors of the crates under the binding, as JS errors.
pub trait ToJs {
    /// The JS error.
    fn to_js(self) -> napi::Error<Code>;
}

impl ToJs for SysError {
    fn to_js(self) -> napi::Error<Code> {
        coded(errno_name(self.errno), self.syscall)
    }
}

impl ToJs for PoolError {
    fn to_js(self) -> napi::Error<Code> {
        with_code(self.code(), self)
    }
}

impl ToJs for RingError {
    fn to_js(self) -> napi::Error<Code> {
        with_code(self.code(), self)
    }
}

impl ToJs for InvalidBackend {
    fn to_js(self) -> napi::Error<Code> {
        with_code(self.code(), self)
    }
}

impl ToJs for EngineError {
    fn to_js(self) -> napi::Error<Code> {
        match self {
            EngineError::Sys(s) => s.to_js(),
            EngineError::Pool(p) => p.to_js(),
            other => with_code(other.code(), other),
        }
    }
}

/// A napi failure of the binding's own (creating a value, …): an internal error.
impl ToJs for napi::Error {
    fn to_js(self) -> napi::Error<Code> {
        coded("ERR_ZEROSOCK_INTERNAL", self.reason)
    }
}

/// Converts a crate error into the JS error ts/core/errors.ts maps (for `map_err`).
pub fn to_napi(err: impl ToJs) -> napi::Error<Code> {
    err.to_js()
}
