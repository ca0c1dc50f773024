//! Rings shared by JS and native threads (`docs/LAYOUT.md`), exposed for the
//! cross-boundary tests and for JS code that wants a ring in native memory:
//!
//! - `nativeRingCreate(capacity)`: an empty byte ring made by Rust, handed to JS as one external
//!   `ArrayBuffer` (`SpscRing.from(buffer)` attaches to it);
//! - `ringEchoStart(input, output, notify?)`: a native thread that pops every message from the
//!   `input` ring and pushes it to the `output` ring, both in JS-provided memory.
//!
//! Conversion only: the ring protocol lives in `zerosock_ring`.

use crate::errors::{coded, to_napi, Result};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use zerosock_ring::{ByteRing, RelayStats, RelayThread};

/// Creates an empty byte ring (kind 1) of `capacity` data bytes in Rust memory and returns its
/// whole region (384-byte header + data) as an external `ArrayBuffer`. The memory is freed when
/// the `ArrayBuffer` is collected.
///
/// Errors: `ERR_ZEROSOCK_RING_CAPACITY` unless `capacity` is a power of two in 64..=2^30.
#[napi]
pub fn native_ring_create(env: &Env, capacity: u32) -> Result<ArrayBuffer<'_>> {
    let ring = ByteRing::new(capacity as usize).map_err(to_napi)?;
    let (ptr, len) = (ring.as_ptr(), ring.region_len());
    // SAFETY: `ptr` is the ring's allocation of `len` bytes, kept alive by `ring`, which the
    // finalizer drops only once the ArrayBuffer is gone. JS accesses it as the ring protocol says.
    unsafe { ArrayBuffer::from_external(env, ptr, len, ring, |_, ring| drop(ring)) }
        .map_err(to_napi)
}

/// What a finished echo moved.
#[napi(object)]
pub struct RingEchoStats {
    /// Messages echoed, not counting the zero-length end marker.
    pub messages: i64,
    /// Payload bytes echoed.
    pub bytes: i64,
}

/// A native thread echoing one ring into another (see `ringEchoStart`).
#[napi]
pub struct RingEcho {
    /// Declared first: dropped (stopped and joined) before the arrays below are let go.
    relay: RelayThread,
    /// Hold the JS memory of both rings (strong references) until the thread has been joined.
    _input: Uint8Array,
    _output: Uint8Array,
}

/// Starts a native thread that pops every message of the `input` ring and pushes it to the
/// `output` ring, until it has forwarded a zero-length message (the end marker) or `stop()` is
/// called. Both arguments are `Uint8Array`s over initialised byte rings (e.g.
/// `new Uint8Array(ring.buffer)` of a `SharedArrayBuffer` ring, or over a `nativeRingCreate`
/// buffer); JS must play the producer of `input` and the consumer of `output`. When `notify` is
/// given, it is called on the JS thread whenever the JS consumer of `output` went to sleep
/// (`consumer_waiting` flag) and must be woken (`ring.notify()`); without it that consumer must
/// wait with a timeout. The thread holds references to both arrays until it is stopped; the
/// buffers must not be detached (transferred) meanwhile.
///
/// Errors: `ERR_ZEROSOCK_RING_BAD_MEMORY` / `ERR_ZEROSOCK_RING_BAD_HEADER` when a ring does not
/// validate; the two rings must not overlap.
#[napi(ts_args_type = "input: Uint8Array, output: Uint8Array, notify?: () => void")]
pub fn ring_echo_start(
    input: Uint8Array,
    output: Uint8Array,
    // Weak: the callback does not keep the event loop alive.
    notify: Option<ThreadsafeFunction<(), Unknown<'static>, (), Status, false, true>>,
) -> Result<RingEcho> {
    let (in_ptr, in_len) = (input.as_ptr() as usize, input.len());
    let (out_ptr, out_len) = (output.as_ptr() as usize, output.len());
    if in_ptr < out_ptr + out_len && out_ptr < in_ptr + in_len {
        let msg = "the input and output rings overlap";
        return Err(coded("ERR_INVALID_ARG_VALUE", msg));
    }
    // SAFETY: the arrays' memory stays valid while `RingEcho` holds `input`/`output` (strong
    // references), and `RingEcho` joins the thread before letting them go. JS accesses the rings
    // only through the ring protocol (it is the other party of each), which `attach` validates.
    let consumer = unsafe { ByteRing::attach(in_ptr as *mut u8, in_len) }
        .map_err(to_napi)?
        .split()
        .1;
    // SAFETY: as above.
    let producer = unsafe { ByteRing::attach(out_ptr as *mut u8, out_len) }
        .map_err(to_napi)?
        .split()
        .0;
    let wake = notify.map(|f| -> Box<dyn Fn() + Send> {
        Box::new(move || {
            f.call((), ThreadsafeFunctionCallMode::NonBlocking);
        })
    });
    let relay =
        RelayThread::spawn("zerosock-ring-echo", consumer, producer, wake).map_err(|e| {
            coded(
                "ERR_ZEROSOCK_INTERNAL",
                format!("spawning the echo thread: {e}"),
            )
        })?;
    Ok(RingEcho {
        relay,
        _input: input,
        _output: output,
    })
}

#[napi]
impl RingEcho {
    /// Stops the thread (at once, or after it forwarded the end marker), waits for it and
    /// returns what it moved. Later calls return zeros.
    ///
    /// Errors: `ERR_ZEROSOCK_RING_CORRUPT` when JS broke the ring protocol.
    #[napi]
    pub fn stop(&mut self) -> Result<RingEchoStats> {
        match self.relay.stop() {
            None => Ok(RingEchoStats {
                messages: 0,
                bytes: 0,
            }),
            Some(Some(result)) => result.map(echo_stats).map_err(to_napi),
            Some(None) => Err(coded("ERR_ZEROSOCK_INTERNAL", "the echo thread panicked")),
        }
    }

    /// Whether the thread has ended (end marker forwarded, error, or stopped).
    #[napi(getter)]
    pub fn finished(&self) -> bool {
        self.relay.finished()
    }
}

fn echo_stats(s: RelayStats) -> RingEchoStats {
    RingEchoStats {
        messages: s.messages as i64,
        bytes: s.bytes as i64,
    }
}
