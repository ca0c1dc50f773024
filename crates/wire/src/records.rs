//! The record layout shared with JS: blocks of 8 `i32`s, events native → JS and submissions
//! JS → native. ts/core/records.generated.ts is written from this file ([`crate::ts`]); a test
//! fails when the committed copy is stale.

use crate::syscall::Syscall;
use zerosock_pool::BufHandle;
use zerosock_uring::Event;

/// Ints per record, in both directions.
pub const RECORD_INTS: usize = 8;
/// Ints at the start of the submission block used for replies (`acquire`, [`OWES_SUBMIT_INT`]).
pub const REPLY_INTS: usize = RECORD_INTS;
/// Event records per JS callback.
pub const EVENT_RECORDS: usize = 1024;
/// Submission records per `flush()`.
pub const SUBMIT_RECORDS: usize = 4096;

/// Reply int (in the submission block's reply area) that says whether the engine holds work
/// only a submit hands to the kernel (`Engine::debt()` not empty): 1 or 0, rewritten after
/// every native call that can change it. JS reads it to know that it must flush before it
/// returns to the event loop.
pub const OWES_SUBMIT_INT: usize = 7;

/// Event kinds (native → JS), int 0 of an event record.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum EventKind {
    /// `[ACCEPTED, listener, socket]`.
    Accepted = 1,
    /// `[CONNECTED, socket]`.
    Connected = 2,
    /// `[DATA, socket, region, byteOffset, len, handleLo, handleHi]`.
    Data = 3,
    /// `[SENT, socket, bytesLo, bytesHi]`.
    Sent = 4,
    /// `[EOF, socket]`.
    Eof = 5,
    /// `[ERROR, socket, errno, syscall index]`.
    Error = 6,
    /// `[CLOSED, socket]`: the last event of a socket.
    Closed = 7,
    /// `[ZC_DONE, socket, first, last, copied]`: zerocopy sends `first..=last` finished.
    ZcDone = 8,
    /// `[MAPPED, socket, window, chunk, len, token, 0]`: zerocopy receive mapped `len` bytes;
    /// give them back with `[RELEASE, 0, token, 0]` (handle hi 0 never names a pool buffer).
    Mapped = 9,
    /// `[TLS_READY, socket]`: the TLS handshake is over (`tlsInfo` tells how it went).
    TlsReady = 10,
    /// `[TLS_FAILED, socket]`: the TLS session failed (`tlsInfo().error` says why).
    TlsFailed = 11,
    /// `[FILE_SENT, socket, bytesLo, bytesHi, errno]`: the socket's oldest `SEND_FILE` is done
    /// (`errno` 0, or why reading the file failed).
    FileSent = 12,
}

/// Submission kinds (JS → native), int 0 of a submission record.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum SubmitKind {
    /// `[SEND, socket, handleLo, handleHi, offset, len]`: send a pool buffer's bytes.
    Send = 1,
    /// `[RELEASE, 0, handleLo, handleHi]`: JS is done with a received buffer (handle hi 0:
    /// the release token of a `MAPPED` chunk in handle lo).
    Release = 2,
    /// `[SHUTDOWN, socket]`: FIN after everything queued.
    Shutdown = 3,
    /// `[CLOSE, socket]`.
    Close = 4,
    /// `[PAUSE, socket]`: stop reading.
    Pause = 5,
    /// `[RESUME, socket]`: read again.
    Resume = 6,
    /// `[DROP, 0, handleLo, handleHi]`: give back an unused cork buffer.
    Drop = 7,
    /// `[SEND_ZC, socket, -1, token, len]`: zerocopy send of the JS memory pinned under
    /// `token` (`pinZeroCopy`); its send id is the socket's next one.
    SendZc = 8,
    /// `[ZC_RECV, socket, on]`: zerocopy receive on/off (a listener: for what it accepts).
    ZcRecv = 9,
    /// `[SEND_FILE, socket, fd, offsetLo, offsetHi, lenLo, lenHi]`: send `len` bytes of file
    /// `fd` from `offset` after what is queued (the engine sends from its own duplicate of `fd`).
    SendFile = 10,
    /// `[SEND_ZC_POOL, socket, handleLo, handleHi, offset, len]`: zerocopy send of a pool
    /// buffer JS holds (a 'data' view's); the engine owns the buffer from then on and gives
    /// it back to the pool when the kernel lets go.
    SendZcPool = 11,
}

impl EventKind {
    /// Every kind, in value order.
    pub const ALL: [EventKind; 12] = [
        EventKind::Accepted,
        EventKind::Connected,
        EventKind::Data,
        EventKind::Sent,
        EventKind::Eof,
        EventKind::Error,
        EventKind::Closed,
        EventKind::ZcDone,
        EventKind::Mapped,
        EventKind::TlsReady,
        EventKind::TlsFailed,
        EventKind::FileSent,
    ];
}

impl EventKind {
    /// Names of the ints after int 1 (the socket or listener the event is for), in order: the
    /// fields of the record. [`encode`] writes them there (a test holds it to this list) and
    /// ts/core/records.generated.ts turns the list into the offsets JS reads them at.
    pub const fn fields(self) -> &'static [&'static str] {
        match self {
            EventKind::Accepted => &["socket"],
            EventKind::Connected
            | EventKind::Eof
            | EventKind::Closed
            | EventKind::TlsReady
            | EventKind::TlsFailed => &[],
            EventKind::Data => &["region", "byteOffset", "len", "handleLo", "handleHi"],
            EventKind::Sent => &["bytesLo", "bytesHi"],
            EventKind::Error => &["errno", "syscall"],
            EventKind::ZcDone => &["first", "last", "copied"],
            EventKind::Mapped => &["window", "chunk", "len", "token"],
            EventKind::FileSent => &["bytesLo", "bytesHi", "errno"],
        }
    }

    /// The int of a record of this kind that holds `field` (one of [`EventKind::fields`]).
    pub fn offset_of(self, field: &str) -> Option<usize> {
        self.fields()
            .iter()
            .position(|f| *f == field)
            .map(|i| i + 2)
    }
}

impl SubmitKind {
    /// Every kind, in value order.
    pub const ALL: [SubmitKind; 11] = [
        SubmitKind::Send,
        SubmitKind::Release,
        SubmitKind::Shutdown,
        SubmitKind::Close,
        SubmitKind::Pause,
        SubmitKind::Resume,
        SubmitKind::Drop,
        SubmitKind::SendZc,
        SubmitKind::ZcRecv,
        SubmitKind::SendFile,
        SubmitKind::SendZcPool,
    ];

    /// The kind with value `v`, if any.
    pub fn from_i32(v: i32) -> Option<SubmitKind> {
        SubmitKind::ALL.into_iter().find(|k| *k as i32 == v)
    }
}

/// One record.
pub type Record = [i32; RECORD_INTS];

/// Splits a handle into the two ints JS carries.
pub fn handle_ints(h: BufHandle) -> (i32, i32) {
    let raw = h.to_u64();
    (raw as u32 as i32, (raw >> 32) as u32 as i32)
}

/// Rebuilds a handle from the two ints JS carried.
pub fn handle_from_ints(lo: i32, hi: i32) -> BufHandle {
    BufHandle::from_u64((lo as u32 as u64) | ((hi as u32 as u64) << 32))
}

/// Splits a `u64` into (low, high) `i32`s.
fn split(v: u64) -> (i32, i32) {
    (v as u32 as i32, (v >> 32) as u32 as i32)
}

/// Where a received buffer lives for JS: region id and byte offset of the data in that region.
pub type Locate<'a> = &'a dyn Fn(BufHandle, u32) -> (i32, i32);

/// Encodes one event (`MAPPED`'s release token, int 5, is the session's to fill in).
pub fn encode(ev: &Event, locate: Locate<'_>) -> Record {
    let (kind, ints): (EventKind, [i32; 6]) = match *ev {
        Event::Accepted { listener, socket } => (
            EventKind::Accepted,
            [listener as i32, socket as i32, 0, 0, 0, 0],
        ),
        Event::Connected { socket } => (EventKind::Connected, [socket as i32, 0, 0, 0, 0, 0]),
        Event::Data {
            socket,
            buf,
            offset,
            len,
        } => {
            let (region, at) = locate(buf, offset);
            let (lo, hi) = handle_ints(buf);
            let ints = [socket as i32, region, at, len as i32, lo, hi];
            (EventKind::Data, ints)
        }
        Event::Sent { socket, bytes } => {
            let (lo, hi) = split(bytes);
            (EventKind::Sent, [socket as i32, lo, hi, 0, 0, 0])
        }
        Event::FileSent {
            socket,
            bytes,
            errno,
        } => {
            let (lo, hi) = split(bytes);
            (EventKind::FileSent, [socket as i32, lo, hi, errno, 0, 0])
        }
        Event::Eof { socket } => (EventKind::Eof, [socket as i32, 0, 0, 0, 0, 0]),
        Event::Error { socket, err } => {
            let syscall = Syscall::from_name(err.syscall) as i32;
            (
                EventKind::Error,
                [socket as i32, err.errno, syscall, 0, 0, 0],
            )
        }
        Event::Closed { socket } => (EventKind::Closed, [socket as i32, 0, 0, 0, 0, 0]),
        Event::TlsReady { socket } => (EventKind::TlsReady, [socket as i32, 0, 0, 0, 0, 0]),
        Event::TlsFailed { socket } => (EventKind::TlsFailed, [socket as i32, 0, 0, 0, 0, 0]),
        Event::ZeroCopyDone {
            socket,
            first,
            last,
            copied,
        } => {
            let ints = [
                socket as i32,
                first as i32,
                last as i32,
                copied.into(),
                0,
                0,
            ];
            (EventKind::ZcDone, ints)
        }
        Event::Mapped {
            socket,
            window,
            chunk,
            len,
        } => {
            let ints = [socket as i32, window as i32, chunk as i32, len as i32, 0, 0];
            (EventKind::Mapped, ints)
        }
    };
    let mut out = [0; RECORD_INTS];
    out[0] = kind as i32;
    out[1..7].copy_from_slice(&ints);
    out
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
    fn kinds_follow_their_values() {
        for (i, k) in EventKind::ALL.into_iter().enumerate() {
            assert_eq!(k as usize, i + 1);
        }
        for (i, k) in SubmitKind::ALL.into_iter().enumerate() {
            assert_eq!(SubmitKind::from_i32(i as i32 + 1), Some(k));
        }
        assert_eq!(SubmitKind::from_i32(0), None);
    }

    #[test]
    fn encode_puts_every_field_where_fields_names_it() {
        use zerosock_uring::SysError;
        let h = BufHandle::new(1, 77, 0x0102_0304);
        let (lo, hi) = handle_ints(h);
        let err = SysError {
            errno: 104,
            syscall: "recv",
        };
        let cases: Vec<(Event, Vec<(&str, i32)>)> = vec![
            (
                Event::Accepted {
                    listener: 3,
                    socket: 9,
                },
                vec![("socket", 9)],
            ),
            (Event::Connected { socket: 3 }, vec![]),
            (
                Event::Data {
                    socket: 3,
                    buf: h,
                    offset: 5,
                    len: 1000,
                },
                vec![
                    ("region", 41),
                    ("byteOffset", 4242),
                    ("len", 1000),
                    ("handleLo", lo),
                    ("handleHi", hi),
                ],
            ),
            (
                Event::Sent {
                    socket: 3,
                    bytes: (7 << 32) | 11,
                },
                vec![("bytesLo", 11), ("bytesHi", 7)],
            ),
            (Event::Eof { socket: 3 }, vec![]),
            (
                Event::Error { socket: 3, err },
                vec![
                    ("errno", 104),
                    ("syscall", Syscall::from_name("recv") as i32),
                ],
            ),
            (Event::Closed { socket: 3 }, vec![]),
            (
                Event::ZeroCopyDone {
                    socket: 3,
                    first: 4,
                    last: 6,
                    copied: true,
                },
                vec![("first", 4), ("last", 6), ("copied", 1)],
            ),
            (
                Event::Mapped {
                    socket: 3,
                    window: 2,
                    chunk: 8,
                    len: 4096,
                },
                vec![("window", 2), ("chunk", 8), ("len", 4096), ("token", 0)],
            ),
            (Event::TlsReady { socket: 3 }, vec![]),
            (Event::TlsFailed { socket: 3 }, vec![]),
            (
                Event::FileSent {
                    socket: 3,
                    bytes: (5 << 32) | 9,
                    errno: 21,
                },
                vec![("bytesLo", 9), ("bytesHi", 5), ("errno", 21)],
            ),
        ];
        let mut seen = Vec::new();
        for (ev, want) in cases {
            let rec = encode(&ev, &|_, off| (41, 4237 + off as i32));
            let kind = EventKind::ALL[rec[0] as usize - 1];
            seen.push(kind);
            assert_eq!(rec[1], 3, "{kind:?}: int 1 is the socket or listener");
            let names: Vec<&str> = want.iter().map(|(n, _)| *n).collect();
            assert_eq!(kind.fields(), names.as_slice(), "{kind:?}: field list");
            for (name, value) in want {
                assert_eq!(rec[kind.offset_of(name).unwrap()], value, "{kind:?}.{name}");
            }
            let used = 2 + kind.fields().len();
            assert!(
                rec[used..].iter().all(|&v| v == 0),
                "{kind:?}: unused ints zero"
            );
        }
        assert_eq!(seen, EventKind::ALL, "every kind checked");
    }

    #[test]
    fn zerocopy_events_encode() {
        let ev = Event::ZeroCopyDone {
            socket: 7,
            first: u32::MAX,
            last: u32::MAX,
            copied: true,
        };
        assert_eq!(encode(&ev, &|_, _| (0, 0)), [8, 7, -1, -1, 1, 0, 0, 0]);
        let ev = Event::Mapped {
            socket: 7,
            window: 3,
            chunk: 2,
            len: 8192,
        };
        assert_eq!(encode(&ev, &|_, _| (0, 0)), [9, 7, 3, 2, 8192, 0, 0, 0]);
    }
}
