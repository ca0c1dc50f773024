//! What byte and record rings share: header setup/validation, the producer and
//! consumer position bookkeeping with the Acquire/Release hand-over and the
//! consumer-waiting protocol, and the two halves ([`Producer`], [`Consumer`]) whose
//! framing — byte messages or fixed records — is their type parameter.

use crate::layout;
use crate::region::Region;
use crate::sync::{fence, Arc, Ordering};
use crate::RingError;

/// Checks a data capacity.
pub(crate) fn check_capacity(capacity: usize) -> Result<u32, RingError> {
    if layout::is_valid_capacity(capacity) {
        Ok(capacity as u32)
    } else {
        Err(RingError::Capacity {
            requested: capacity,
            min: layout::MIN_CAPACITY,
            max: layout::MAX_CAPACITY,
        })
    }
}

/// Allocates a Rust-owned region and writes its header.
pub(crate) fn allocate(capacity: u32, kind: u32, record_size: u32) -> Arc<Region> {
    let region = Region::allocate(capacity);
    #[cfg(not(loom))]
    write_header(&region, kind, record_size);
    #[cfg(loom)]
    let _ = (kind, record_size);
    Arc::new(region)
}

/// Checks that external memory can hold a region (`ptr` non-null, aligned, long enough
/// for `capacity` when given).
#[cfg(not(loom))]
pub(crate) fn check_memory(ptr: *mut u8, len: usize) -> Result<std::ptr::NonNull<u8>, RingError> {
    let Some(base) = std::ptr::NonNull::new(ptr) else {
        return Err(RingError::BadMemory {
            reason: "null pointer",
        });
    };
    if !(ptr as usize).is_multiple_of(layout::REGION_ALIGN) {
        return Err(RingError::BadMemory {
            reason: "pointer not 4-byte aligned",
        });
    }
    if len < layout::HEADER_LEN + layout::MIN_CAPACITY {
        return Err(RingError::BadMemory {
            reason: "shorter than header + minimum capacity",
        });
    }
    Ok(base)
}

/// Writes a fresh header (positions 0, flag 0, reserved words 0); magic last.
#[cfg(not(loom))]
pub(crate) fn write_header(region: &Region, kind: u32, record_size: u32) {
    use layout::*;
    for off in (4..HEADER_LEN).step_by(4) {
        region.header_word(off).store(0, Ordering::Relaxed);
    }
    region
        .header_word(OFF_VERSION)
        .store(VERSION, Ordering::Relaxed);
    region.header_word(OFF_KIND).store(kind, Ordering::Relaxed);
    region
        .header_word(OFF_CAPACITY)
        .store(region.capacity(), Ordering::Relaxed);
    region
        .header_word(OFF_RECORD_SIZE)
        .store(record_size, Ordering::Relaxed);
    region
        .header_word(OFF_MAGIC)
        .store(MAGIC, Ordering::Release);
}

/// Reads and validates an existing header in external memory of `len` bytes.
/// Returns `(capacity, record_size)`.
///
/// # Safety
/// `base` is valid for reads and writes of `len` bytes (at least the header).
#[cfg(not(loom))]
pub(crate) unsafe fn read_header(
    base: std::ptr::NonNull<u8>,
    len: usize,
    kind: u32,
) -> Result<(u32, u32), RingError> {
    use layout::*;
    let bad = |reason| Err(RingError::BadHeader { reason });
    // SAFETY: the caller guarantees `len >= HEADER_LEN` valid bytes; the minimum
    // capacity is only used to read header words before the real one is known.
    let probe = unsafe { Region::external(base, MIN_CAPACITY as u32) };
    let word = |off| probe.header_word(off).load(Ordering::Acquire);
    if word(OFF_MAGIC) != MAGIC {
        return bad("magic");
    }
    if word(OFF_VERSION) != VERSION {
        return bad("version");
    }
    if word(OFF_KIND) != kind {
        return bad("kind");
    }
    let capacity = word(OFF_CAPACITY);
    if !is_valid_capacity(capacity as usize) {
        return bad("capacity");
    }
    if len < region_len(capacity as usize) {
        return Err(RingError::BadMemory {
            reason: "shorter than header + capacity",
        });
    }
    let record_size = word(OFF_RECORD_SIZE);
    let align = if kind == KIND_RECORDS {
        if !is_valid_record_size(capacity as usize, record_size as usize) {
            return bad("record_size");
        }
        record_size
    } else {
        if record_size != 0 {
            return bad("record_size");
        }
        4
    };
    let head = word(OFF_HEAD);
    let tail = word(OFF_TAIL);
    if tail.wrapping_sub(head) > capacity
        || !head.is_multiple_of(align)
        || !tail.is_multiple_of(align)
    {
        return bad("head/tail");
    }
    Ok((capacity, record_size))
}

/// Writes a fresh header for a ring of `kind` over external memory and returns its region
/// (the capacity and record size already checked by the caller).
///
/// # Safety
/// As [`ByteRing::init_at`](crate::ByteRing::init_at).
#[cfg(not(loom))]
pub(crate) unsafe fn init_external(
    ptr: *mut u8,
    len: usize,
    capacity: u32,
    kind: u32,
    record_size: u32,
) -> Result<Arc<Region>, RingError> {
    let base = check_memory(ptr, len)?;
    if len < layout::region_len(capacity as usize) {
        return Err(RingError::BadMemory {
            reason: "shorter than header + capacity",
        });
    }
    // SAFETY: checked non-null, aligned and long enough; validity and lifetime
    // are the caller's contract.
    let region = unsafe { Region::external(base, capacity) };
    write_header(&region, kind, record_size);
    Ok(Arc::new(region))
}

/// Attaches to a ring of `kind` already initialised in external memory. Returns its region
/// and record size.
///
/// # Safety
/// As [`ByteRing::init_at`](crate::ByteRing::init_at).
#[cfg(not(loom))]
pub(crate) unsafe fn attach_external(
    ptr: *mut u8,
    len: usize,
    kind: u32,
) -> Result<(Arc<Region>, u32), RingError> {
    let base = check_memory(ptr, len)?;
    // SAFETY: `len` valid bytes per the caller's contract, at least a header (checked).
    let (capacity, record_size) = unsafe { read_header(base, len, kind) }?;
    // SAFETY: header validated; `len >= HEADER_LEN + capacity` (checked in read_header).
    let region = unsafe { Region::external(base, capacity) };
    Ok((Arc::new(region), record_size))
}

/// Producer-side positions: owns `tail`, caches the last seen `head`.
pub(crate) struct ProducerCore {
    pub(crate) region: Arc<Region>,
    /// Our position (the value last published to `tail`, plus nothing pending).
    pub(crate) tail: u32,
    /// Last `head` loaded from shared memory.
    head: u32,
    /// Positions must stay multiples of this (4, or the record size).
    align: u32,
}

impl ProducerCore {
    pub(crate) fn new(region: Arc<Region>, align: u32) -> ProducerCore {
        let tail = region.tail().load(Ordering::Relaxed);
        let mut head = region.head().load(Ordering::Acquire);
        if tail.wrapping_sub(head) > region.capacity() {
            // Inconsistent (validated on the next reload): assume full for now.
            head = tail.wrapping_sub(region.capacity());
        }
        ProducerCore {
            region,
            tail,
            head,
            align,
        }
    }

    pub(crate) fn capacity(&self) -> u32 {
        self.region.capacity()
    }

    /// Free bytes as of the cached `head`.
    fn cached_free(&self, tail: u32) -> u32 {
        self.capacity().wrapping_sub(tail.wrapping_sub(self.head))
    }

    /// Free bytes after position `tail` (our tail plus unpublished writes);
    /// reloads `head` (Acquire) only when the cached value shows less than `need`.
    pub(crate) fn free_from(&mut self, tail: u32, need: u32) -> Result<u32, RingError> {
        let free = self.cached_free(tail);
        if free >= need {
            return Ok(free);
        }
        let head = self.region.head().load(Ordering::Acquire);
        // The consumer may only move head forward, up to our published tail.
        if head.wrapping_sub(self.head) > self.tail.wrapping_sub(self.head)
            || !head.is_multiple_of(self.align)
        {
            return Err(RingError::Corrupt {
                reason: "head moved outside the written range",
            });
        }
        self.head = head;
        Ok(self.cached_free(tail))
    }

    /// Publishes everything written up to position `tail` (Release).
    pub(crate) fn publish(&mut self, tail: u32) {
        self.tail = tail;
        self.region.tail().store(tail, Ordering::Release);
    }

    /// Bytes currently used, from this side's view (reloads `head`).
    pub(crate) fn used(&mut self) -> Result<u32, RingError> {
        let tail = self.tail;
        let free = self.free_from(tail, self.capacity())?;
        Ok(self.capacity() - free)
    }

    /// After publishing: true when the consumer announced it is going to sleep.
    /// Clears the flag, so it returns true once per sleep; the caller must then
    /// wake the consumer (JS: `Atomics.notify(i32, I32_TAIL)`).
    pub(crate) fn should_notify(&self) -> bool {
        let waiting = self.region.consumer_waiting();
        fence(Ordering::SeqCst);
        waiting.load(Ordering::Relaxed) != 0 && waiting.swap(0, Ordering::AcqRel) != 0
    }
}

/// Consumer-side positions: owns `head`, caches the last seen `tail`.
pub(crate) struct ConsumerCore {
    pub(crate) region: Arc<Region>,
    /// Our position (everything before it has been released, or is being consumed).
    pub(crate) head: u32,
    /// Last `tail` loaded from shared memory.
    tail: u32,
    align: u32,
}

impl ConsumerCore {
    pub(crate) fn new(region: Arc<Region>, align: u32) -> ConsumerCore {
        let head = region.head().load(Ordering::Relaxed);
        let mut tail = region.tail().load(Ordering::Acquire);
        if tail.wrapping_sub(head) > region.capacity() {
            // Inconsistent (validated on the next reload): assume empty for now.
            tail = head;
        }
        ConsumerCore {
            region,
            head,
            tail,
            align,
        }
    }

    pub(crate) fn capacity(&self) -> u32 {
        self.region.capacity()
    }

    /// Validates and caches a freshly loaded `tail`.
    fn accept_tail(&mut self, tail: u32) -> Result<(), RingError> {
        if tail.wrapping_sub(self.head) > self.capacity() || !tail.is_multiple_of(self.align) {
            return Err(RingError::Corrupt {
                reason: "tail outside the ring",
            });
        }
        self.tail = tail;
        Ok(())
    }

    /// Readable bytes from position `head`; reloads `tail` (Acquire) only when
    /// the cached value shows fewer than `want` bytes.
    pub(crate) fn available_from(&mut self, head: u32, want: u32) -> Result<u32, RingError> {
        let avail = self.tail.wrapping_sub(head);
        if avail >= want.max(1) {
            return Ok(avail);
        }
        let tail = self.region.tail().load(Ordering::Acquire);
        // `head` (local, maybe ahead of the released head) must not pass `tail`. Checked before
        // `accept_tail` caches it: a cached tail behind a head released later made the cached
        // `tail - head` wrap to ~2^32 ("plenty"), and skipping wrap markers then looped
        // ~2^32 / capacity times per pop.
        if tail.wrapping_sub(head) > tail.wrapping_sub(self.head) {
            return Err(RingError::Corrupt {
                reason: "tail moved backwards",
            });
        }
        self.accept_tail(tail)?;
        Ok(tail.wrapping_sub(head))
    }

    /// Releases everything before position `head` to the producer (Release).
    pub(crate) fn release(&mut self, head: u32) {
        self.head = head;
        self.region.head().store(head, Ordering::Release);
    }

    /// Announces that the consumer is about to sleep. Returns `Ok(true)` if the
    /// ring is still empty after the flag is set (sleep now; a producer that
    /// publishes afterwards sees the flag), `Ok(false)` if data arrived (the flag
    /// is cleared again; consume instead of sleeping).
    pub(crate) fn prepare_wait(&mut self) -> Result<bool, RingError> {
        self.region.consumer_waiting().store(1, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        let tail = self.region.tail().load(Ordering::Acquire);
        self.accept_tail(tail)?;
        if tail == self.head {
            Ok(true)
        } else {
            self.finish_wait();
            Ok(false)
        }
    }

    /// Clears the consumer-waiting flag (after waking up).
    pub(crate) fn finish_wait(&self) {
        self.region.consumer_waiting().store(0, Ordering::Relaxed);
    }

    /// The `tail` value a sleeping consumer waits on changing (JS:
    /// `Atomics.wait(i32, I32_TAIL, value)`).
    pub(crate) fn observed_tail(&self) -> u32 {
        self.tail
    }
}

/// The producing half of a ring. `F` is how the ring frames its data:
/// [`Messages`](crate::Messages) ([`ByteProducer`](crate::ByteProducer)) or
/// [`Records`](crate::Records) ([`RecordProducer`](crate::RecordProducer)); the push
/// methods are those of the framing, the wake-up side of the sleep protocol is shared.
pub struct Producer<F> {
    pub(crate) core: ProducerCore,
    pub(crate) framing: F,
}

impl<F> Producer<F> {
    /// Call after pushing: returns true (once per consumer sleep, clearing the
    /// consumer-waiting flag) when the consumer went to sleep and must be woken,
    /// e.g. by `Atomics.notify(i32, I32_TAIL)` on the JS side.
    pub fn should_notify(&self) -> bool {
        self.core.should_notify()
    }
}

/// The consuming half of a ring. `F` is how the ring frames its data:
/// [`Messages`](crate::Messages) ([`ByteConsumer`](crate::ByteConsumer)) or
/// [`Records`](crate::Records) ([`RecordConsumer`](crate::RecordConsumer)); the pop
/// methods are those of the framing, the sleep protocol is shared.
pub struct Consumer<F> {
    pub(crate) core: ConsumerCore,
    pub(crate) framing: F,
}

impl<F> Consumer<F> {
    /// Sleep protocol, step 1: sets the consumer-waiting flag and re-checks.
    /// `Ok(true)`: the ring is empty; sleep until woken (or until `tail` differs
    /// from [`Consumer::observed_tail`]) and then call
    /// [`Consumer::finish_wait`]. `Ok(false)`: data is there; the flag was
    /// cleared, don't sleep.
    ///
    /// # Errors
    /// [`RingError::Corrupt`] when the peer broke the protocol.
    pub fn prepare_wait(&mut self) -> Result<bool, RingError> {
        self.core.prepare_wait()
    }

    /// Sleep protocol, step 2: clears the consumer-waiting flag after waking.
    pub fn finish_wait(&self) {
        self.core.finish_wait()
    }

    /// The last `tail` value this consumer loaded (what a sleeper waits on changing).
    pub fn observed_tail(&self) -> u32 {
        self.core.observed_tail()
    }
}
