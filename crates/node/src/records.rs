//! The record formats shared with ts/engine.ts: 8 `i32`s per record. Kept in one place so
//! both sides name the same numbers.

use zerosock_pool::BufHandle;
use zerosock_uring::Event;

/// Ints per record, in both directions.
pub const RECORD_INTS: usize = 8;

/// Reply int (in the submission block's reply area) that says whether the engine holds work
/// only a submit hands to the kernel (`Engine::debt()` not empty): 1 or 0, rewritten after
/// every native call that can change it. JS reads it to know that it must flush before it
/// returns to the event loop (`OWES_SUBMIT` in ts/engine.ts).
pub const OWES_SUBMIT_INT: usize = 7;

/// Event kinds (native → JS).
pub mod event {
    pub const ACCEPTED: i32 = 1;
    pub const CONNECTED: i32 = 2;
    pub const DATA: i32 = 3;
    pub const SENT: i32 = 4;
    pub const EOF: i32 = 5;
    pub const ERROR: i32 = 6;
    pub const CLOSED: i32 = 7;
    /// `[ZC_DONE, socket, first, last, copied]`: zerocopy sends `first..=last` finished.
    pub const ZC_DONE: i32 = 8;
    /// `[MAPPED, socket, window, chunk, len, token, 0]`: zerocopy receive mapped `len` bytes;
    /// give them back with `[RELEASE, 0, token, 0]` (handle hi 0 never names a pool buffer).
    pub const MAPPED: i32 = 9;
}

/// Submission kinds (JS → native).
pub mod submit {
    /// `[SEND, socket, handleLo, handleHi, offset, len]`: send a pool buffer's bytes.
    pub const SEND: i32 = 1;
    /// `[RELEASE, 0, handleLo, handleHi]`: JS is done with a received buffer.
    pub const RELEASE: i32 = 2;
    /// `[SHUTDOWN, socket]`: FIN after everything queued.
    pub const SHUTDOWN: i32 = 3;
    /// `[CLOSE, socket]`.
    pub const CLOSE: i32 = 4;
    /// `[PAUSE, socket]`: stop reading.
    pub const PAUSE: i32 = 5;
    /// `[RESUME, socket]`: read again.
    pub const RESUME: i32 = 6;
    /// `[DROP, 0, handleLo, handleHi]`: give back an unused cork buffer.
    pub const DROP: i32 = 7;
    /// `[SEND_ZC, socket, -1, token, len]`: zerocopy send of the JS memory pinned under
    /// `token` (`pinZeroCopy`); its send id is the socket's next one.
    pub const SEND_ZC: i32 = 8;
    /// `[ZC_RECV, socket, on]`: zerocopy receive on/off (a listener: for what it accepts).
    pub const ZC_RECV: i32 = 9;
}

/// Splits a handle into the two ints JS carries.
pub fn handle_ints(h: BufHandle) -> (i32, i32) {
    let raw = h.to_u64();
    (raw as u32 as i32, (raw >> 32) as u32 as i32)
}

/// Rebuilds a handle from the two ints JS carried.
pub fn handle_from_ints(lo: i32, hi: i32) -> BufHandle {
    BufHandle::from_u64((lo as u32 as u64) | ((hi as u32 as u64) << 32))
}

/// The system call names errors can carry; JS gets this table once (`syscallNames()`).
pub const SYSCALLS: &[&str] = &[
    "unknown",
    "accept",
    "connect",
    "read",
    "write",
    "recv",
    "send",
    "writev",
    "readv",
    "shutdown",
    "close",
    "listen",
    "bind",
    "socket",
    "setsockopt",
    "getsockopt",
    "sendmsg",
    "recvmsg",
    "epoll_ctl",
    "epoll_wait",
    "io_uring_enter",
];

/// Index of `name` in [`SYSCALLS`] (0 = unknown).
pub fn syscall_index(name: &str) -> i32 {
    SYSCALLS.iter().position(|s| *s == name).unwrap_or(0) as i32
}

/// Where a received buffer lives for JS: region id and byte offset of the data in that region.
pub type Locate<'a> = &'a dyn Fn(BufHandle, u32) -> (i32, i32);

/// Encodes one event into `out` (8 ints).
pub fn encode(ev: &Event, locate: Locate<'_>, out: &mut [i32; RECORD_INTS]) {
    *out = [0; RECORD_INTS];
    match *ev {
        Event::Accepted { listener, socket } => {
            *out = [
                event::ACCEPTED,
                listener as i32,
                socket as i32,
                0,
                0,
                0,
                0,
                0,
            ]
        }
        Event::Connected { socket } => out[..2].copy_from_slice(&[event::CONNECTED, socket as i32]),
        Event::Data {
            socket,
            buf,
            offset,
            len,
        } => {
            let (region, at) = locate(buf, offset);
            let (lo, hi) = handle_ints(buf);
            *out = [
                event::DATA,
                socket as i32,
                region,
                at,
                len as i32,
                lo,
                hi,
                0,
            ];
        }
        Event::Sent { socket, bytes } => {
            *out = [
                event::SENT,
                socket as i32,
                bytes as u32 as i32,
                (bytes >> 32) as u32 as i32,
                0,
                0,
                0,
                0,
            ]
        }
        Event::Eof { socket } => out[..2].copy_from_slice(&[event::EOF, socket as i32]),
        Event::Error { socket, err } => {
            *out = [
                event::ERROR,
                socket as i32,
                err.errno,
                syscall_index(err.syscall),
                0,
                0,
                0,
                0,
            ]
        }
        Event::Closed { socket } => out[..2].copy_from_slice(&[event::CLOSED, socket as i32]),
        Event::ZeroCopyDone {
            socket,
            first,
            last,
            copied,
        } => {
            *out = [
                event::ZC_DONE,
                socket as i32,
                first as i32,
                last as i32,
                i32::from(copied),
                0,
                0,
                0,
            ]
        }
        Event::Mapped {
            socket,
            window,
            chunk,
            len,
        } => {
            // The binding fills in the release token (int 5).
            *out = [
                event::MAPPED,
                socket as i32,
                window as i32,
                chunk as i32,
                len as i32,
                0,
                0,
                0,
            ]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_round_trip_through_two_ints() {
        let h = BufHandle::new(1, 12345, 0xfedc_ba98);
        let (lo, hi) = handle_ints(h);
        assert_eq!(handle_from_ints(lo, hi), h);
    }

    #[test]
    fn zerocopy_events_encode() {
        let mut out = [0; RECORD_INTS];
        let ev = Event::ZeroCopyDone {
            socket: 7,
            first: u32::MAX,
            last: u32::MAX,
            copied: true,
        };
        encode(&ev, &|_, _| (0, 0), &mut out);
        assert_eq!(out, [event::ZC_DONE, 7, -1, -1, 1, 0, 0, 0]);
        let ev = Event::Mapped {
            socket: 7,
            window: 3,
            chunk: 2,
            len: 8192,
        };
        encode(&ev, &|_, _| (0, 0), &mut out);
        assert_eq!(out, [event::MAPPED, 7, 3, 2, 8192, 0, 0, 0]);
    }

    #[test]
    fn syscall_names_resolve() {
        assert_eq!(SYSCALLS[syscall_index("connect") as usize], "connect");
        assert_eq!(syscall_index("nope"), 0);
    }
}
