//! Loom models of the rings (run with
//! `RUSTFLAGS="--cfg loom" cargo test -p zerosock-ring --release --test loom`).
//!
//! Under loom the SPSC region is a model whose data bytes are loom `UnsafeCell`s,
//! so these also check that every data access is ordered by head/tail.
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use zerosock_ring::{ByteRing, MpscRing, RecordRing};

fn model(f: impl Fn() + Sync + Send + 'static) {
    model_bounded(3, f)
}

fn model_bounded(preemptions: usize, f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(preemptions);
    b.max_branches = 10_000;
    b.check(f);
}

/// Retries `f` until it yields a value (loom explores the yields).
fn retry<T>(mut f: impl FnMut() -> Option<T>) -> T {
    for _ in 0..1000 {
        if let Some(v) = f() {
            return v;
        }
        thread::yield_now();
    }
    panic!("no progress after 1000 attempts");
}

#[test]
fn byte_ring_push_pop() {
    model(|| {
        let (mut p, mut c) = ByteRing::new(64).unwrap().split();
        let t = thread::spawn(move || {
            assert!(p.push(b"abcdef").unwrap());
            assert!(p.push(&[7; 12]).unwrap());
        });
        let mut out = Vec::new();
        retry(|| c.pop_into(&mut out).unwrap());
        assert_eq!(out, b"abcdef");
        retry(|| c.pop_into(&mut out).unwrap());
        assert_eq!(out, [7; 12]);
        t.join().unwrap();
    });
}

#[test]
fn byte_ring_wrap_and_full() {
    model(|| {
        let (mut p, mut c) = ByteRing::new(64).unwrap().split();
        // Move both positions to 48 so the next 20-byte message wraps.
        assert!(p.push(&[0; 20]).unwrap());
        assert!(p.push(&[0; 20]).unwrap());
        assert_eq!(c.pop_many(2, |_| ()).unwrap(), 2);
        let t = thread::spawn(move || {
            // 3 x 24 bytes (+ a 16-byte wrap skip) exceed 64: the third waits for space.
            for i in 1..=3u8 {
                retry(|| p.push(&[i; 20]).unwrap().then_some(()));
            }
        });
        for i in 1..=3u8 {
            let m = retry(|| c.pop_with(|m| m.to_vec()).unwrap());
            assert_eq!(m, [i; 20]);
        }
        t.join().unwrap();
        assert_eq!(c.pop_with(|_| ()).unwrap(), None);
    });
}

#[test]
fn byte_ring_batch_and_pop_many() {
    model(|| {
        let (mut p, mut c) = ByteRing::new(64).unwrap().split();
        let t = thread::spawn(move || {
            assert_eq!(p.push_batch(&[b"one", b"two", b"three"]).unwrap(), 3);
        });
        let mut got = Vec::new();
        retry(|| {
            c.pop_many(8, |m| got.push(m.to_vec())).unwrap();
            (got.len() == 3).then_some(())
        });
        assert_eq!(got, [b"one".to_vec(), b"two".to_vec(), b"three".to_vec()]);
        t.join().unwrap();
    });
}

#[test]
fn consumer_sleep_is_never_missed() {
    model(|| {
        let (mut p, mut c) = ByteRing::new(64).unwrap().split();
        let t = thread::spawn(move || {
            assert!(p.push(b"x").unwrap());
            p.should_notify()
        });
        let slept = c.prepare_wait().unwrap();
        let notified = t.join().unwrap();
        // If the consumer decided to sleep on an empty ring, the producer must
        // have seen the flag and be told to wake it.
        assert!(!slept || notified, "lost wake-up");
        c.finish_wait();
        assert_eq!(c.pop_with(|m| m == b"x").unwrap(), Some(true));
    });
}

#[test]
fn record_ring_reserve_commit_peek_release() {
    model(|| {
        // 4 slots of 16 bytes.
        let (mut p, mut c) = RecordRing::new(64, 16).unwrap().split();
        let t = thread::spawn(move || {
            let mut next = 0u8;
            while next < 6 {
                let mut r = p.reserve(4).unwrap();
                if r.is_empty() {
                    thread::yield_now();
                    continue;
                }
                let n = r.len().min(3).min(usize::from(6 - next));
                for i in 0..r.len() {
                    r.record_mut(i).fill(next + i as u8);
                }
                r.commit(n);
                next += n as u8;
            }
        });
        let mut want = 0u8;
        retry(|| {
            let peek = c.peek(2).unwrap();
            for i in 0..peek.len() {
                assert_eq!(peek.record(i), [want + i as u8; 16]);
            }
            let n = peek.len();
            peek.release(n);
            want += n as u8;
            (want == 6).then_some(())
        });
        t.join().unwrap();
    });
}

#[test]
fn mpsc_two_producers() {
    model_bounded(2, || {
        let r = Arc::new(MpscRing::new(4).unwrap());
        let ts: Vec<_> = (0..2u64)
            .map(|p| {
                let r = Arc::clone(&r);
                thread::spawn(move || {
                    for i in 0..2u64 {
                        retry(|| r.push(p * 10 + i).ok());
                    }
                })
            })
            .collect();
        let mut next = [0u64, 10];
        for _ in 0..4 {
            let v = retry(|| r.pop());
            let p = (v / 10) as usize;
            assert_eq!(v, next[p], "per-producer order");
            next[p] += 1;
        }
        for t in ts {
            t.join().unwrap();
        }
        assert_eq!(r.pop(), None);
    });
}

#[test]
fn mpsc_three_producers_full_ring() {
    model(|| {
        let r = Arc::new(MpscRing::new(2).unwrap());
        let ts: Vec<_> = (1..=3u64)
            .map(|v| {
                let r = Arc::clone(&r);
                thread::spawn(move || r.push(v).is_ok())
            })
            .collect();
        let pushed: Vec<bool> = ts.into_iter().map(|t| t.join().unwrap()).collect();
        let mut got = Vec::new();
        r.pop_many(&mut got, 8);
        got.sort_unstable();
        let want: Vec<u64> = (1..=3u64).filter(|&v| pushed[v as usize - 1]).collect();
        assert_eq!(got, want);
        assert_eq!(
            got.len(),
            2,
            "a 2-slot ring takes exactly two of three pushes"
        );
    });
}
