//! Target `event_records`: the native → JS event records (`zerosock_wire::records::encode`,
//! what `Session` writes) for arbitrary events, and the handle ↔ two-int split JS carries.
//!
//! Must hold: no panic for any event (any socket id, handle, offset, length, errno, syscall
//! name); each field lands where ts/core/engine.ts reads it; a handle survives the round trip
//! through two `i32`s; a buffer that is not in the pool is located as region -1.

use arbitrary::{Result, Unstructured};
use zerosock_pool::BufHandle;
use zerosock_uring::{Event, SysError};
use zerosock_wire::records::{self, EventKind, RECORD_INTS};
use zerosock_wire::Syscall;

const SYSCALLS: [&str; 6] = [
    "connect",
    "accept",
    "recv",
    "send",
    "io_uring_enter",
    "bogus",
];

/// Runs one input.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    for _ in 0..64 {
        if u.is_empty() {
            break;
        }
        if one(&mut u).is_err() {
            break;
        }
    }
}

fn one(u: &mut Unstructured<'_>) -> Result<()> {
    let socket: u32 = u.arbitrary()?;
    let buf = BufHandle::from_u64(u.arbitrary()?);
    let (lo, hi) = records::handle_ints(buf);
    assert_eq!(records::handle_from_ints(lo, hi), buf);
    let offset: u32 = u.arbitrary()?;
    let len: u32 = u.arbitrary()?;
    let bytes: u64 = u.arbitrary()?;
    let errno: i32 = u.arbitrary()?;
    let syscall = *u.choose(&SYSCALLS)?;
    let region: i32 = u.arbitrary()?;
    let at: i32 = u.arbitrary()?;
    let ev = match u.int_in_range(0u8..=11)? {
        0 => Event::Accepted {
            listener: u.arbitrary()?,
            socket,
        },
        1 => Event::Connected { socket },
        2 => Event::Data {
            socket,
            buf,
            offset,
            len,
        },
        3 => Event::Sent { socket, bytes },
        4 => Event::Eof { socket },
        5 => Event::Error {
            socket,
            err: SysError::new(errno, syscall),
        },
        6 => Event::ZeroCopyDone {
            socket,
            first: offset,
            last: len,
            copied: u.arbitrary()?,
        },
        7 => Event::Mapped {
            socket,
            window: offset,
            chunk: len,
            len: u.arbitrary()?,
        },
        8 => Event::TlsReady { socket },
        9 => Event::TlsFailed { socket },
        10 => Event::FileSent {
            socket,
            bytes,
            errno,
        },
        _ => Event::Closed { socket },
    };
    let locate = |h: BufHandle, off: u32| {
        assert_eq!((h, off), (buf, offset), "locate called with other values");
        (region, at)
    };
    let out: [i32; RECORD_INTS] = records::encode(&ev, &locate);
    if !matches!(ev, Event::Accepted { .. }) {
        assert_eq!(out[1], socket as i32, "socket id in int 1");
    }
    match ev {
        Event::Accepted { listener, socket } => {
            assert_eq!(out[0], EventKind::Accepted as i32);
            assert_eq!((out[1], out[2]), (listener as i32, socket as i32));
        }
        Event::Connected { .. } => assert_eq!(out[0], EventKind::Connected as i32),
        Event::Data { .. } => {
            assert_eq!(out[0], EventKind::Data as i32);
            assert_eq!(&out[2..7], &[region, at, len as i32, lo, hi]);
            assert_eq!(records::handle_from_ints(out[5], out[6]), buf);
        }
        Event::Sent { bytes, .. } => {
            assert_eq!(out[0], EventKind::Sent as i32);
            let back = (out[2] as u32 as u64) | ((out[3] as u32 as u64) << 32);
            assert_eq!(back, bytes);
        }
        Event::Eof { .. } => assert_eq!(out[0], EventKind::Eof as i32),
        Event::Error { err, .. } => {
            assert_eq!(out[0], EventKind::Error as i32);
            assert_eq!(out[2], err.errno);
            let named = Syscall::ALL[out[3] as usize];
            if Syscall::from_name(err.syscall) != Syscall::Unknown {
                assert_eq!(named.name(), err.syscall);
            } else {
                assert_eq!(
                    named,
                    Syscall::Unknown,
                    "an unknown syscall maps to index 0"
                );
            }
        }
        Event::Closed { .. } => assert_eq!(out[0], EventKind::Closed as i32),
        Event::TlsReady { .. } => assert_eq!(out[0], EventKind::TlsReady as i32),
        Event::TlsFailed { .. } => assert_eq!(out[0], EventKind::TlsFailed as i32),
        Event::FileSent { bytes, errno, .. } => {
            assert_eq!(out[0], EventKind::FileSent as i32);
            let back = (out[2] as u32 as u64) | ((out[3] as u32 as u64) << 32);
            assert_eq!((back, out[4]), (bytes, errno));
        }
        Event::ZeroCopyDone {
            first,
            last,
            copied,
            ..
        } => {
            assert_eq!(out[0], EventKind::ZcDone as i32);
            assert_eq!(&out[2..5], &[first as i32, last as i32, i32::from(copied)]);
        }
        Event::Mapped {
            window, chunk, len, ..
        } => {
            assert_eq!(out[0], EventKind::Mapped as i32);
            assert_eq!(&out[2..5], &[window as i32, chunk as i32, len as i32]);
        }
    }
    // Ints not used by the kind are zero (JS may read them as 0).
    let used = match ev {
        Event::Accepted { .. } => 3,
        Event::Data { .. } => 7,
        Event::Sent { .. } | Event::Error { .. } => 4,
        Event::ZeroCopyDone { .. } | Event::Mapped { .. } | Event::FileSent { .. } => 5,
        _ => 2,
    };
    assert!(out[used..].iter().all(|&x| x == 0), "stale ints in {out:?}");
    Ok(())
}
