//! Rings in memory given from outside: header contents, attach, validation,
//! u32 position wrap-around, and a misbehaving peer (corrupt positions/lengths).
#![cfg(not(loom))]

use zerosock_ring::layout::*;
use zerosock_ring::{ByteRing, RecordRing};

/// 8-aligned zeroed memory standing in for a SharedArrayBuffer. Accessed only
/// through its raw pointer (by the ring and by the test's get/set).
struct Mem {
    ptr: *mut u64,
    words: usize,
}

impl Mem {
    fn new(len: usize) -> Mem {
        let words = len.div_ceil(8);
        let ptr = Box::into_raw(vec![0u64; words].into_boxed_slice()).cast::<u64>();
        Mem { ptr, words }
    }
    fn ptr(&mut self) -> *mut u8 {
        self.ptr.cast()
    }
    fn len(&self) -> usize {
        self.words * 8
    }
    fn get(&self, off: usize) -> u32 {
        assert!(off + 4 <= self.len());
        // SAFETY: in bounds; single-threaded tests, no ring operation in progress.
        unsafe {
            self.ptr
                .cast::<u8>()
                .add(off)
                .cast::<u32>()
                .read_unaligned()
        }
    }
    fn set(&mut self, off: usize, v: u32) {
        assert!(off + 4 <= self.len());
        // SAFETY: as in `get`.
        unsafe {
            self.ptr
                .cast::<u8>()
                .add(off)
                .cast::<u32>()
                .write_unaligned(v)
        }
    }
    fn bytes(&self, off: usize, len: usize) -> Vec<u8> {
        (off..off + len)
            .map(|i| {
                assert!(i < self.len());
                // SAFETY: as in `get`.
                unsafe { self.ptr.cast::<u8>().add(i).read() }
            })
            .collect()
    }
}

impl Drop for Mem {
    fn drop(&mut self) {
        let slice = std::ptr::slice_from_raw_parts_mut(self.ptr, self.words);
        // SAFETY: allocated by `Box::into_raw` in `new` with this length; rings over
        // it are dropped before (declared after `Mem` in every test).
        drop(unsafe { Box::from_raw(slice) });
    }
}

fn init_bytes(mem: &mut Mem, capacity: usize) -> ByteRing {
    let (ptr, len) = (mem.ptr(), mem.len());
    // SAFETY: `mem` outlives every ring made over it in these tests, and each test
    // uses at most one producer and one consumer at a time.
    unsafe { ByteRing::init_at(ptr, len, capacity) }.unwrap()
}

fn attach_bytes(mem: &mut Mem) -> Result<ByteRing, zerosock_ring::RingError> {
    let (ptr, len) = (mem.ptr(), mem.len());
    // SAFETY: as in `init_bytes`.
    unsafe { ByteRing::attach(ptr, len) }
}

#[test]
fn init_writes_the_documented_header() {
    let mut mem = Mem::new(region_len(256));
    mem.set(300, 0xDEAD); // reserved header bytes are zeroed by init
    let ring = init_bytes(&mut mem, 256);
    assert_eq!(ring.region_len(), 384 + 256);
    let (mut p, mut c) = ring.split();
    assert_eq!(mem.get(OFF_MAGIC), 0x5A53_5247);
    assert_eq!(mem.get(OFF_VERSION), 1);
    assert_eq!(mem.get(OFF_KIND), KIND_BYTES);
    assert_eq!(mem.get(OFF_CAPACITY), 256);
    assert_eq!(mem.get(OFF_RECORD_SIZE), 0);
    assert_eq!(mem.get(300), 0);
    assert!(p.push(b"hello").unwrap());
    assert_eq!(mem.get(OFF_TAIL), 12);
    assert_eq!(mem.get(OFF_HEAD), 0);
    assert_eq!(mem.get(DATA_OFFSET), 5);
    assert_eq!(mem.bytes(DATA_OFFSET + 4, 5), b"hello");
    assert_eq!(c.pop_with(|m| m == b"hello"), Ok(Some(true)));
    assert_eq!(mem.get(OFF_HEAD), 12);
    assert_eq!((I32_HEAD, I32_CONSUMER_WAITING, I32_TAIL), (32, 33, 64));

    let mut mem = Mem::new(region_len(128));
    let (ptr, len) = (mem.ptr(), mem.len());
    // SAFETY: as in `init_bytes`.
    let r = unsafe { RecordRing::init_at(ptr, len, 128, 16) }.unwrap();
    assert_eq!((r.capacity(), r.record_size(), r.slots()), (128, 16, 8));
    drop(r);
    assert_eq!(mem.get(OFF_KIND), KIND_RECORDS);
    assert_eq!(mem.get(OFF_RECORD_SIZE), 16);
}

#[test]
fn attach_sees_the_other_partys_messages() {
    let mut mem = Mem::new(region_len(1024));
    let (mut p, c) = init_bytes(&mut mem, 1024).split();
    drop(c); // the "other party" plays the consumer
    for i in 0..10u8 {
        assert!(p.push(&[i; 33]).unwrap());
    }
    let (_p2, mut c2) = attach_bytes(&mut mem).unwrap().split();
    let mut out = Vec::new();
    for i in 0..10u8 {
        assert_eq!(c2.pop_into(&mut out), Ok(Some(33)));
        assert_eq!(out, [i; 33]);
    }
    assert_eq!(p.used_bytes(), Ok(0));
}

#[test]
fn memory_checks() {
    // SAFETY: null/short/misaligned memory is rejected before any access.
    unsafe {
        let e = ByteRing::init_at(std::ptr::null_mut(), 1 << 20, 64).unwrap_err();
        assert_eq!(e.code(), "ERR_ZEROSOCK_RING_BAD_MEMORY");
        let mut mem = Mem::new(region_len(128));
        let e = ByteRing::init_at(mem.ptr(), mem.len(), 256).unwrap_err();
        assert_eq!(e.code(), "ERR_ZEROSOCK_RING_BAD_MEMORY");
        let e = ByteRing::init_at(mem.ptr(), mem.len(), 100).unwrap_err();
        assert_eq!(e.code(), "ERR_ZEROSOCK_RING_CAPACITY");
        let e = ByteRing::init_at(mem.ptr().add(2), mem.len() - 8, 64).unwrap_err();
        assert_eq!(e.code(), "ERR_ZEROSOCK_RING_BAD_MEMORY");
        let e = ByteRing::attach(mem.ptr(), 100).unwrap_err();
        assert_eq!(e.code(), "ERR_ZEROSOCK_RING_BAD_MEMORY");
    }
}

#[test]
fn attach_rejects_bad_headers() {
    let cases: [(&str, usize, u32); 8] = [
        ("magic", OFF_MAGIC, 0x1234),
        ("version", OFF_VERSION, 2),
        ("kind", OFF_KIND, KIND_RECORDS),
        ("capacity", OFF_CAPACITY, 100),
        ("capacity", OFF_CAPACITY, 32),
        ("record_size", OFF_RECORD_SIZE, 8),
        ("head/tail", OFF_TAIL, 1000),
        ("head/tail", OFF_TAIL, 6),
    ];
    for (reason, off, value) in cases {
        let mut mem = Mem::new(region_len(256));
        drop(init_bytes(&mut mem, 256));
        assert!(attach_bytes(&mut mem).is_ok());
        mem.set(off, value);
        let e = attach_bytes(&mut mem).unwrap_err();
        assert_eq!(e.code(), "ERR_ZEROSOCK_RING_BAD_HEADER", "{reason}");
        assert!(
            e.to_string().contains(reason),
            "{e} should mention {reason}"
        );
    }
    // Capacity larger than the memory.
    let mut mem = Mem::new(region_len(256));
    drop(init_bytes(&mut mem, 256));
    mem.set(OFF_CAPACITY, 512);
    assert_eq!(
        attach_bytes(&mut mem).unwrap_err().code(),
        "ERR_ZEROSOCK_RING_BAD_MEMORY"
    );
    // A byte ring is not a record ring, and bad record sizes are refused.
    let (ptr, len) = (mem.ptr(), mem.len());
    mem.set(OFF_CAPACITY, 256);
    // SAFETY: as in `init_bytes`.
    let e = unsafe { RecordRing::attach(ptr, len) }.unwrap_err();
    assert_eq!(e.code(), "ERR_ZEROSOCK_RING_BAD_HEADER");
    mem.set(OFF_KIND, KIND_RECORDS);
    mem.set(OFF_RECORD_SIZE, 24);
    // SAFETY: as in `init_bytes`.
    let e = unsafe { RecordRing::attach(ptr, len) }.unwrap_err();
    assert!(e.to_string().contains("record_size"));
    mem.set(OFF_RECORD_SIZE, 32);
    // SAFETY: as in `init_bytes`.
    let r = unsafe { RecordRing::attach(ptr, len) }.unwrap();
    assert_eq!(r.record_size(), 32);
}

#[test]
fn positions_wrap_around_u32() {
    let mut mem = Mem::new(region_len(128));
    drop(init_bytes(&mut mem, 128));
    let start = 0u32.wrapping_sub(64); // 0xFFFF_FFC0: 64 bytes before the u32 wrap
    mem.set(OFF_HEAD, start);
    mem.set(OFF_TAIL, start);
    let (mut p, mut c) = attach_bytes(&mut mem).unwrap().split();
    let mut out = Vec::new();
    for i in 0..200u32 {
        let len = (i % 61) as usize;
        assert!(p.push(&vec![i as u8; len]).unwrap());
        assert!(p.push(&[1, 2, 3]).unwrap());
        assert_eq!(c.pop_into(&mut out), Ok(Some(len)));
        assert!(out.iter().all(|&b| b == i as u8));
        assert_eq!(c.pop_into(&mut out), Ok(Some(3)));
        assert_eq!(c.pop_into(&mut out), Ok(None));
    }
    assert!(mem.get(OFF_HEAD) < 100_000, "head wrapped past 2^32");

    let mut mem = Mem::new(region_len(64));
    let (ptr, len) = (mem.ptr(), mem.len());
    // SAFETY: as in `init_bytes`.
    drop(unsafe { RecordRing::init_at(ptr, len, 64, 16) }.unwrap());
    mem.set(OFF_HEAD, start + 16);
    mem.set(OFF_TAIL, start + 16);
    // SAFETY: as in `init_bytes`.
    let (mut p, mut c) = unsafe { RecordRing::attach(ptr, len) }.unwrap().split();
    for i in 0..100u8 {
        assert_eq!(p.push_batch(&[i; 48]), Ok(3));
        let mut n = 0;
        assert_eq!(
            c.pop_many(10, |r| n += r.iter().filter(|&&b| b == i).count()),
            Ok(3)
        );
        assert_eq!(n, 48);
    }
}

#[test]
fn corrupt_peer_is_an_error_never_a_crash() {
    // Tail pushed beyond the capacity by the peer.
    let mut mem = Mem::new(region_len(64));
    let (_p, mut c) = init_bytes(&mut mem, 64).split();
    mem.set(OFF_TAIL, 1000);
    let e = c.pop_into(&mut Vec::new()).unwrap_err();
    assert_eq!(e.code(), "ERR_ZEROSOCK_RING_CORRUPT");

    // A message length larger than the maximum / than what was published.
    for bogus in [29u32, 0x7FFF_FFFF, 12] {
        let mut mem = Mem::new(region_len(64));
        let (mut p, mut c) = init_bytes(&mut mem, 64).split();
        assert!(p.push(&[9; 4]).unwrap());
        mem.set(DATA_OFFSET, bogus);
        let e = c.pop_with(|_| ()).unwrap_err();
        assert_eq!(e.code(), "ERR_ZEROSOCK_RING_CORRUPT", "length {bogus}");
    }

    // Head moved past tail by the peer (producer side).
    let mut mem = Mem::new(region_len(64));
    let (mut p, _c) = init_bytes(&mut mem, 64).split();
    assert!(p.push(&[0; 20]).unwrap());
    mem.set(OFF_HEAD, 60);
    assert!(p.push(&[0; 20]).unwrap(), "cached head still had room");
    let e = p.push(&[0; 20]).unwrap_err();
    assert_eq!(e.code(), "ERR_ZEROSOCK_RING_CORRUPT");

    // Wrap marker whose skip passes the tail.
    let mut mem = Mem::new(region_len(64));
    let (mut p, mut c) = init_bytes(&mut mem, 64).split();
    assert!(p.push(&[0; 4]).unwrap());
    mem.set(DATA_OFFSET, WRAP_MARKER);
    assert_eq!(
        c.pop_with(|_| ()).unwrap_err().code(),
        "ERR_ZEROSOCK_RING_CORRUPT"
    );

    // Record ring: misaligned tail.
    let mut mem = Mem::new(region_len(64));
    let (ptr, len) = (mem.ptr(), mem.len());
    // SAFETY: as in `init_bytes`.
    let (_p, mut c) = unsafe { RecordRing::init_at(ptr, len, 64, 16) }
        .unwrap()
        .split();
    mem.set(OFF_TAIL, 8);
    assert_eq!(c.peek(4).err().unwrap().code(), "ERR_ZEROSOCK_RING_CORRUPT");
}
