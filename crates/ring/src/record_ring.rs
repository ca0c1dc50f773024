//! Kind-2 SPSC ring of fixed-size records (see `docs/LAYOUT.md`), with zero-copy
//! batch reserve/commit on the producer and peek/release on the consumer.

use crate::layout::{self, KIND_RECORDS};
use crate::region::{DataMut, DataRef, Region};
use crate::spsc::{self, Consumer, ConsumerCore, Producer, ProducerCore};
use crate::sync::{Arc, Ordering};
use crate::RingError;

fn check_record_size(capacity: u32, record_size: usize) -> Result<u32, RingError> {
    if layout::is_valid_record_size(capacity as usize, record_size) {
        Ok(record_size as u32)
    } else {
        Err(RingError::RecordSize {
            expected: 0,
            got: record_size,
        })
    }
}

/// A single-producer single-consumer ring of fixed-size records in the shared
/// layout. Positions are byte offsets that stay multiples of the record size.
pub struct RecordRing {
    region: Arc<Region>,
    record_size: u32,
}

impl RecordRing {
    /// Creates a ring of `capacity` data bytes holding `capacity / record_size`
    /// records, in a Rust allocation.
    ///
    /// # Errors
    /// [`RingError::Capacity`] unless `capacity` is a power of two in `64..=2^30`;
    /// [`RingError::RecordSize`] unless `record_size` is a multiple of 4 dividing
    /// `capacity`.
    pub fn new(capacity: usize, record_size: usize) -> Result<RecordRing, RingError> {
        let capacity = spsc::check_capacity(capacity)?;
        let record_size = check_record_size(capacity, record_size)?;
        Ok(RecordRing {
            region: spsc::allocate(capacity, KIND_RECORDS, record_size),
            record_size,
        })
    }

    /// Writes a fresh, empty kind-2 header at `ptr` and returns the ring over it.
    ///
    /// # Errors
    /// As [`RecordRing::new`], plus [`RingError::BadMemory`] if `ptr` is null or
    /// not 4-aligned, or `len < HEADER_LEN + capacity`.
    ///
    /// # Safety
    /// Same contract as [`crate::ByteRing::init_at`].
    #[cfg(not(loom))]
    pub unsafe fn init_at(
        ptr: *mut u8,
        len: usize,
        capacity: usize,
        record_size: usize,
    ) -> Result<RecordRing, RingError> {
        let capacity = spsc::check_capacity(capacity)?;
        let record_size = check_record_size(capacity, record_size)?;
        // SAFETY: the caller's contract is the one `init_external` needs.
        let region = unsafe { spsc::init_external(ptr, len, capacity, KIND_RECORDS, record_size) }?;
        Ok(RecordRing {
            region,
            record_size,
        })
    }

    /// Attaches to a kind-2 ring already initialised at `ptr` (by Rust or JS).
    ///
    /// # Errors
    /// As [`crate::ByteRing::attach`].
    ///
    /// # Safety
    /// Same contract as [`crate::ByteRing::init_at`].
    #[cfg(not(loom))]
    pub unsafe fn attach(ptr: *mut u8, len: usize) -> Result<RecordRing, RingError> {
        // SAFETY: the caller's contract is the one `attach_external` needs.
        let (region, record_size) = unsafe { spsc::attach_external(ptr, len, KIND_RECORDS) }?;
        Ok(RecordRing {
            region,
            record_size,
        })
    }

    /// Data capacity in bytes.
    pub fn capacity(&self) -> usize {
        self.region.capacity() as usize
    }

    /// Size of one record in bytes.
    pub fn record_size(&self) -> usize {
        self.record_size as usize
    }

    /// Number of records the ring holds (`capacity / record_size`).
    pub fn slots(&self) -> usize {
        self.capacity() / self.record_size()
    }

    /// Start of the region (header first). Valid while the ring or a half lives.
    #[cfg(not(loom))]
    pub fn as_ptr(&self) -> *mut u8 {
        self.region.base()
    }

    /// Length of the region in bytes (`HEADER_LEN + capacity`).
    pub fn region_len(&self) -> usize {
        layout::region_len(self.capacity())
    }

    /// Splits the ring into its producer and consumer.
    pub fn split(self) -> (RecordProducer, RecordConsumer) {
        let rs = self.record_size;
        (
            Producer {
                core: ProducerCore::new(Arc::clone(&self.region), rs),
                framing: Records { record_size: rs },
            },
            Consumer {
                core: ConsumerCore::new(self.region, rs),
                framing: Records { record_size: rs },
            },
        )
    }
}

impl std::fmt::Debug for RecordRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordRing")
            .field("capacity", &self.capacity())
            .field("record_size", &self.record_size)
            .finish()
    }
}

/// The framing of a [`RecordRing`]: records of one size, back to back, none straddling the
/// end of the data area.
#[derive(Clone, Copy, Debug)]
pub struct Records {
    record_size: u32,
}

/// The producing half of a [`RecordRing`].
pub type RecordProducer = Producer<Records>;

impl RecordProducer {
    /// Size of one record in bytes.
    pub fn record_size(&self) -> usize {
        self.framing.record_size as usize
    }

    /// Number of records the ring holds.
    pub fn slots(&self) -> usize {
        (self.core.capacity() / self.framing.record_size) as usize
    }

    /// Free contiguous span after position `tail`: (data offset, records, max n).
    fn span(&mut self, tail: u32, n: usize) -> Result<(u32, u32), RingError> {
        let cap = self.core.capacity();
        let rs = self.framing.record_size;
        let off = tail & (cap - 1);
        let want = (n.min(self.slots()) as u32 * rs).min(cap - off);
        let free = self.core.free_from(tail, want)?;
        Ok((off, want.min(free) / rs))
    }

    /// Reserves up to `n` contiguous records (fewer when the ring is nearly full or
    /// the span reaches the end of the data area; possibly zero). Write them via
    /// [`Reservation::bytes_mut`], then [`Reservation::commit`] the first `k`.
    ///
    /// # Errors
    /// [`RingError::Corrupt`] when the peer broke the protocol.
    pub fn reserve(&mut self, n: usize) -> Result<Reservation<'_>, RingError> {
        let tail = self.core.tail;
        let (off, k) = self.span(tail, n)?;
        let rs = self.framing.record_size;
        let ProducerCore { region, tail, .. } = &mut self.core;
        let region: &Region = region;
        // SAFETY: `[tail, tail + k * rs)` is free (checked against head) and not yet
        // published, so only we access it while the reservation lives.
        let data = unsafe { region.bytes_mut(off, (k * rs) as usize) };
        Ok(Reservation {
            region,
            tail,
            data,
            record_size: rs as usize,
        })
    }

    /// Pushes one record. `Ok(false)` when the ring is full.
    ///
    /// # Errors
    /// [`RingError::RecordSize`] unless `record.len() == record_size`;
    /// [`RingError::Corrupt`] when the peer broke the protocol.
    pub fn push(&mut self, record: &[u8]) -> Result<bool, RingError> {
        if record.len() != self.framing.record_size as usize {
            return Err(RingError::RecordSize {
                expected: self.framing.record_size as usize,
                got: record.len(),
            });
        }
        let mut r = self.reserve(1)?;
        if r.is_empty() {
            return Ok(false);
        }
        r.bytes_mut().copy_from_slice(record);
        r.commit(1);
        Ok(true)
    }

    /// Pushes as many whole records from `records` (concatenated) as fit,
    /// publishing them with one store. Returns how many were pushed.
    ///
    /// # Errors
    /// [`RingError::RecordSize`] unless `records.len()` is a multiple of the
    /// record size; [`RingError::Corrupt`] when the peer broke the protocol.
    pub fn push_batch(&mut self, records: &[u8]) -> Result<usize, RingError> {
        let rs = self.framing.record_size as usize;
        if !records.len().is_multiple_of(rs) {
            return Err(RingError::RecordSize {
                expected: rs,
                got: records.len(),
            });
        }
        let total = records.len() / rs;
        let mut tail = self.core.tail;
        let mut done = 0;
        // At most two spans: up to the end of the data area, then from offset 0.
        for _ in 0..2 {
            if done == total {
                break;
            }
            let (off, k) = self.span(tail, total - done)?;
            if k == 0 {
                break;
            }
            let bytes = &records[done * rs..(done + k as usize) * rs];
            // SAFETY: the span is free (checked against head) and unpublished.
            unsafe { self.core.region.write_bytes(off, bytes) };
            tail = tail.wrapping_add(k * self.framing.record_size);
            done += k as usize;
        }
        if done > 0 {
            self.core.publish(tail);
        }
        Ok(done)
    }

    /// Records in use as seen by the producer (reloads the consumer position).
    ///
    /// # Errors
    /// [`RingError::Corrupt`] when the peer broke the protocol.
    pub fn used_records(&mut self) -> Result<usize, RingError> {
        Ok((self.core.used()? / self.framing.record_size) as usize)
    }
}

/// Contiguous records reserved by [`RecordProducer::reserve`]. Nothing is
/// published until [`Reservation::commit`]; dropping it commits nothing.
pub struct Reservation<'a> {
    region: &'a Region,
    tail: &'a mut u32,
    data: DataMut<'a>,
    record_size: usize,
}

impl Reservation<'_> {
    /// Number of records reserved (may be 0).
    pub fn len(&self) -> usize {
        self.data.len() / self.record_size
    }

    /// Whether no record could be reserved.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// All reserved records, concatenated (`len() * record_size` bytes).
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.data
    }

    /// Record `i` of the reservation.
    ///
    /// # Panics
    /// If `i >= len()`.
    pub fn record_mut(&mut self, i: usize) -> &mut [u8] {
        let rs = self.record_size;
        &mut self.data[i * rs..(i + 1) * rs]
    }

    /// Publishes the first `k` reserved records (Release store of `tail`).
    ///
    /// # Panics
    /// If `k > len()`.
    pub fn commit(self, k: usize) {
        assert!(k <= self.len(), "commit {k} > reserved {}", self.len());
        let Reservation {
            region,
            tail,
            data,
            record_size,
        } = self;
        data.finish();
        if k > 0 {
            *tail = tail.wrapping_add((k * record_size) as u32);
            region.tail().store(*tail, Ordering::Release);
        }
    }
}

/// The consuming half of a [`RecordRing`].
pub type RecordConsumer = Consumer<Records>;

impl RecordConsumer {
    /// Size of one record in bytes.
    pub fn record_size(&self) -> usize {
        self.framing.record_size as usize
    }

    /// Readable contiguous span at position `head`: (data offset, records), at most `max`.
    fn span(&mut self, head: u32, max: usize) -> Result<(u32, u32), RingError> {
        let cap = self.core.capacity();
        let off = head & (cap - 1);
        let max = max.min((cap / self.framing.record_size) as usize) as u32;
        let want = (max * self.framing.record_size).min(cap - off);
        let avail = self.core.available_from(head, want)?.min(want) / self.framing.record_size;
        Ok((off, avail))
    }

    /// Borrows up to `max` contiguous published records in place (fewer at the end
    /// of the data area; possibly zero). Release the first `k` with
    /// [`Peek::release`]; dropping the peek releases nothing.
    ///
    /// # Errors
    /// [`RingError::Corrupt`] when the peer broke the protocol.
    pub fn peek(&mut self, max: usize) -> Result<Peek<'_>, RingError> {
        let head = self.core.head;
        let (off, k) = self.span(head, max)?;
        let rs = self.framing.record_size;
        let ConsumerCore { region, head, .. } = &mut self.core;
        let region: &Region = region;
        // SAFETY: published (Acquire on tail) and not released: the producer leaves
        // it alone while the peek lives.
        let data = unsafe { region.bytes(off, (k * rs) as usize) };
        Ok(Peek {
            region,
            head,
            data,
            record_size: rs as usize,
        })
    }

    /// Pops one record and passes it to `f` in place. `Ok(None)` when empty.
    ///
    /// # Errors
    /// [`RingError::Corrupt`] when the peer broke the protocol.
    pub fn pop_with<R>(&mut self, f: impl FnOnce(&[u8]) -> R) -> Result<Option<R>, RingError> {
        let p = self.peek(1)?;
        if p.is_empty() {
            return Ok(None);
        }
        let r = f(p.bytes());
        p.release(1);
        Ok(Some(r))
    }

    /// Pops one record into `out` (replacing its contents). `Ok(false)` when empty.
    ///
    /// # Errors
    /// [`RingError::Corrupt`] when the peer broke the protocol.
    pub fn pop_into(&mut self, out: &mut Vec<u8>) -> Result<bool, RingError> {
        Ok(self
            .pop_with(|r| {
                out.clear();
                out.extend_from_slice(r);
            })?
            .is_some())
    }

    /// Pops up to `max` records, passing each to `f` in place, releasing them with
    /// one store. Returns how many were popped.
    ///
    /// # Errors
    /// [`RingError::Corrupt`] when the peer broke the protocol.
    pub fn pop_many(&mut self, max: usize, mut f: impl FnMut(&[u8])) -> Result<usize, RingError> {
        let rs = self.framing.record_size as usize;
        let mut head = self.core.head;
        let mut done = 0;
        for _ in 0..2 {
            if done == max {
                break;
            }
            let (off, k) = self.span(head, max - done)?;
            if k == 0 {
                break;
            }
            {
                // SAFETY: published and not released: the producer leaves it alone.
                let data = unsafe { self.core.region.bytes(off, k as usize * rs) };
                data.chunks_exact(rs).for_each(&mut f);
            }
            head = head.wrapping_add(k * self.framing.record_size);
            done += k as usize;
        }
        if done > 0 {
            self.core.release(head);
        }
        Ok(done)
    }
}

/// Published records borrowed in place by [`RecordConsumer::peek`].
pub struct Peek<'a> {
    region: &'a Region,
    head: &'a mut u32,
    data: DataRef<'a>,
    record_size: usize,
}

impl Peek<'_> {
    /// Number of records borrowed (may be 0).
    pub fn len(&self) -> usize {
        self.data.len() / self.record_size
    }

    /// Whether nothing was available.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// All borrowed records, concatenated.
    pub fn bytes(&self) -> &[u8] {
        &self.data
    }

    /// Record `i`.
    ///
    /// # Panics
    /// If `i >= len()`.
    pub fn record(&self, i: usize) -> &[u8] {
        let rs = self.record_size;
        &self.data[i * rs..(i + 1) * rs]
    }

    /// Releases the first `k` records to the producer (Release store of `head`).
    ///
    /// # Panics
    /// If `k > len()`.
    pub fn release(self, k: usize) {
        assert!(k <= self.len(), "release {k} > peeked {}", self.len());
        let Peek {
            region,
            head,
            record_size,
            ..
        } = self;
        if k > 0 {
            *head = head.wrapping_add((k * record_size) as u32);
            region.head().store(*head, Ordering::Release);
        }
    }
}
