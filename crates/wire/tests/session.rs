//! `Session` over real loopback sockets, without Node: records in, records out, on every
//! backend this machine has. The test plays JS: it writes submission records into the shared
//! block and reads event records back.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use zerosock_uring::{probe, BackendKind};
use zerosock_wire::records::{self, EventKind, Record, SubmitKind, RECORD_INTS, REPLY_INTS};
use zerosock_wire::stats::{values, ENGINE_STATS, POOL_STATS};
use zerosock_wire::{Session, SessionOptions};

fn backends() -> Vec<BackendKind> {
    let mut b = vec![BackendKind::Epoll];
    if probe().io_uring_usable() {
        b.push(BackendKind::IoUring);
    }
    b
}

/// Polls until a record satisfies `want` (among `seen` so far, or new ones); returns every
/// record seen.
fn until(s: &mut Session, mut seen: Vec<Record>, want: impl Fn(&Record) -> bool) -> Vec<Record> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let n = s.next_batch();
        seen.extend(read_events(s, n));
        if seen.iter().any(&want) {
            return seen;
        }
        assert!(Instant::now() < deadline, "timed out; saw {seen:?}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn read_events(s: &Session, n: usize) -> Vec<Record> {
    (0..n)
        .map(|i| std::array::from_fn(|k| s.events().read(i * RECORD_INTS + k)))
        .collect()
}

/// Writes `recs` as submission records and flushes them (collecting what completes).
fn flush(s: &mut Session, recs: &[Record]) -> Vec<Record> {
    for (i, r) in recs.iter().enumerate() {
        s.submits().write(REPLY_INTS + i * RECORD_INTS, r);
    }
    let n = s.flush(recs.len(), true, &mut ()).expect("flush");
    read_events(s, n)
}

fn is(kind: EventKind) -> impl Fn(&Record) -> bool {
    move |r| r[0] == kind as i32
}

/// The bytes at (`region`, `at`) of the pool, as JS sees them through its region views.
fn bytes(s: &mut Session, region: i32, at: i32, len: usize) -> &mut [u8] {
    let r = &s.regions()[region as usize];
    assert!(at as usize + len <= r.len);
    // SAFETY: inside a mapped pool region (checked above) that this test alone touches.
    unsafe { std::slice::from_raw_parts_mut(r.base.add(at as usize), len) }
}

/// A session with a listener and one accepted peer connection: (session, socket, peer).
fn connected(kind: BackendKind) -> (Session, u32, TcpStream) {
    let mut s = Session::new(kind, SessionOptions::default()).expect("session");
    let listener = s.listen("127.0.0.1:0".parse().unwrap(), 16, false).unwrap();
    let addr = s.engine().local_addr(listener).unwrap();
    let peer = TcpStream::connect(addr).unwrap();
    let seen = until(&mut s, Vec::new(), is(EventKind::Accepted));
    let accepted = seen.iter().find(|r| is(EventKind::Accepted)(r)).unwrap();
    assert_eq!(accepted[1], listener as i32);
    (s, accepted[2] as u32, peer)
}

fn failed(s: &Session) -> u64 {
    s.stats().failed_records
}

#[test]
fn data_in_send_out_and_the_lent_handle_gate() {
    for kind in backends() {
        let (mut s, sock, mut peer) = connected(kind);
        // The engine's own buffers (io_uring posts receive buffers from the pool).
        let engine_holds = s.stats().pool.in_use;
        peer.write_all(b"hello").unwrap();
        let seen = until(&mut s, Vec::new(), is(EventKind::Data));
        let data = *seen.iter().find(|r| is(EventKind::Data)(r)).unwrap();
        assert_eq!(data[1], sock as i32);
        assert_eq!(data[4], 5);
        assert_eq!(bytes(&mut s, data[2], data[3], 5), b"hello", "{kind}");
        let received = records::handle_from_ints(data[5], data[6]);
        assert!(s.lent_to_js(received));

        // A cork buffer: fill it through the region JS sees, send it with a SEND record.
        let region = s.acquire(0).unwrap();
        let reply: [i32; 5] = std::array::from_fn(|i| s.submits().read(i));
        bytes(&mut s, region, reply[1], 3).copy_from_slice(b"abc");
        let send = [
            SubmitKind::Send as i32,
            sock as i32,
            reply[2],
            reply[3],
            0,
            3,
            0,
            0,
        ];
        let release = [SubmitKind::Release as i32, 0, data[5], data[6], 0, 0, 0, 0];
        flush(&mut s, &[send, release]);
        assert_eq!(failed(&s), 0, "{kind}");
        assert!(!s.lent_to_js(received));
        let mut got = [0u8; 3];
        peer.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"abc");

        // Handles JS no longer holds are refused before the engine or the pool sees them.
        flush(&mut s, &[release, send]);
        assert_eq!(failed(&s), 2, "{kind}: a repeated RELEASE and SEND");
        let forged = records::handle_ints(zerosock_pool::BufHandle::new(0, 0, 1));
        let drop = [SubmitKind::Drop as i32, 0, forged.0, forged.1, 0, 0, 0, 0];
        flush(&mut s, &[drop, [0; RECORD_INTS], [99; RECORD_INTS]]);
        assert_eq!(failed(&s), 5, "{kind}: a forged DROP and two unknown kinds");

        let close = [SubmitKind::Close as i32, sock as i32, 0, 0, 0, 0, 0, 0];
        let seen = flush(&mut s, &[close]);
        until(&mut s, seen, is(EventKind::Closed));
        let in_use = s.stats().pool.in_use;
        assert_eq!(in_use, engine_holds, "{kind}: every buffer JS held is back");
    }
}

#[test]
fn a_received_buffer_sent_by_zerocopy_goes_to_the_engine_and_back_to_the_pool() {
    for kind in backends() {
        let (mut s, sock, mut peer) = connected(kind);
        let engine_holds = s.stats().pool.in_use;
        peer.write_all(b"relay me").unwrap();
        let seen = until(&mut s, Vec::new(), is(EventKind::Data));
        let data = *seen.iter().find(|r| is(EventKind::Data)(r)).unwrap();
        let received = records::handle_from_ints(data[5], data[6]);
        let zc = [
            SubmitKind::SendZcPool as i32,
            sock as i32,
            data[5],
            data[6],
            0, // the offset in the buffer (received bytes start at its first byte)
            data[4],
            0,
            0,
        ];
        let seen = flush(&mut s, &[zc]);
        assert_eq!(failed(&s), 0, "{kind}");
        assert!(!s.lent_to_js(received), "{kind}: the engine owns it now");
        let mut got = [0u8; 8];
        peer.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"relay me");
        until(&mut s, seen, is(EventKind::ZcDone));
        // a second send of the same handle is refused: JS no longer holds it
        flush(&mut s, &[zc]);
        assert_eq!(failed(&s), 1, "{kind}: a repeated SEND_ZC_POOL");
        let close = [SubmitKind::Close as i32, sock as i32, 0, 0, 0, 0, 0, 0];
        let seen = flush(&mut s, &[close]);
        until(&mut s, seen, is(EventKind::Closed));
        assert_eq!(
            s.stats().pool.in_use,
            engine_holds,
            "{kind}: the buffer is back"
        );
    }
}

#[test]
fn pinned_zerocopy_sends_are_named_by_token_and_length() {
    for kind in backends() {
        let (mut s, sock, mut peer) = connected(kind);
        let memory = vec![7u8; 4096];
        let token = s.pin(memory.as_ptr(), memory.len() as u32);
        let zc = |token: u32, len: u32| {
            [
                SubmitKind::SendZc as i32,
                sock as i32,
                -1,
                token as i32,
                len as i32,
                0,
                0,
                0,
            ]
        };
        let other = s.pin(memory.as_ptr(), 16);
        flush(&mut s, &[zc(other, 17), zc(12345, 16)]);
        assert_eq!(failed(&s), 2, "{kind}: wrong length, unknown token");
        let seen = flush(&mut s, &[zc(token, 4096)]);
        assert_eq!(failed(&s), 2, "{kind}");
        let mut got = vec![0u8; 4096];
        peer.read_exact(&mut got).unwrap();
        assert!(got.iter().all(|&b| b == 7));
        let seen = until(&mut s, seen, is(EventKind::ZcDone));
        let done = seen.iter().find(|r| is(EventKind::ZcDone)(r)).unwrap();
        assert_eq!(done[1], sock as i32);
        flush(&mut s, &[zc(token, 4096)]);
        assert_eq!(failed(&s), 3, "{kind}: a token is used once");
    }
}

#[test]
fn a_turn_that_owes_a_submit_is_settled_and_counted() {
    for kind in backends() {
        let (mut s, sock, _peer) = connected(kind);
        // More than the socket takes at once: the rest is queued for the next submit.
        s.send_copy(sock, &vec![1u8; 32 << 20]).unwrap();
        assert_eq!(s.submits().read(records::OWES_SUBMIT_INT), 1, "{kind}");
        assert!(s.settle().is_some(), "{kind}");
        assert_eq!(s.stats().stranded_submits, 1);
        assert_eq!(s.submits().read(records::OWES_SUBMIT_INT), 0, "{kind}");
        assert!(s.settle().is_none());
    }
}

#[test]
fn stats_tables_name_each_counter_once() {
    let s = Session::new(BackendKind::Epoll, SessionOptions::default()).unwrap();
    let source = s.stats();
    let names: Vec<_> = values(ENGINE_STATS, &source).map(|(n, _)| n).collect();
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), names.len());
    assert!(names.contains(&"failedRecords") && names.contains(&"strandedSubmits"));
    for table_names in [names, POOL_STATS.iter().map(|s| s.name).collect()] {
        for n in table_names {
            assert!(
                n.chars().all(|c| c.is_ascii_alphanumeric()),
                "{n} is camelCase"
            );
            assert!(n.starts_with(|c: char| c.is_ascii_lowercase()), "{n}");
        }
    }
}
