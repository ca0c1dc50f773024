//! The record formats shared with ts/engine.ts: 8 `i32`s per record. Kept in one place so
//! both sides name the same numbers.

use zerosock_pool::BufHandle;
use zerosock_uring::Event;

/// Ints per record, in both directions.
pub const RECORD_INTS: usize = 8;

/// Event kinds (native → JS).
pub mod event {
    pub const ACCEPTED: i32 = 1;
    pub const CONNECTED: i32 = 2;
    pub const DATA: i32 = 3;
    pub const SENT: i32 = 4;
    pub const EOF: i32 = 5;
    pub const ERROR: i32 = 6;
    pub const CLOSED: i32 = 7;
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
    fn syscall_names_resolve() {
        assert_eq!(SYSCALLS[syscall_index("connect") as usize], "connect");
        assert_eq!(syscall_index("nope"), 0);
    }
}
