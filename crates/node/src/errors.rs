//! The one error-mapping function: every crate error becomes a JS `Error` whose message starts
//! with the crate's stable code (`ERR_ZEROSOCK_…: message`); `fromNative` in ts/errors.ts turns
//! it into a `ZerosockError` with that `code`. (napi-rs only throws `Status` codes itself.)

/// Anything with a stable zerosock code.
pub trait Coded: std::fmt::Display {
    /// The stable `ERR_ZEROSOCK_…` code.
    fn code(&self) -> &'static str;
}

impl Coded for zerosock_uring::backend_choice::InvalidBackend {
    fn code(&self) -> &'static str {
        zerosock_uring::backend_choice::InvalidBackend::code(self)
    }
}

/// Converts a coded crate error into a JS error whose message carries that code.
pub fn to_napi<E: Coded>(err: E) -> napi::Error {
    napi::Error::new(
        napi::Status::GenericFailure,
        format!("{}: {}", err.code(), err),
    )
}
