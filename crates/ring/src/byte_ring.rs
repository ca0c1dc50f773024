//! Kind-1 SPSC ring of variable-length byte messages (see `docs/LAYOUT.md`).

use crate::layout::{self, KIND_BYTES, LEN_PREFIX, WRAP_MARKER};
use crate::region::Region;
use crate::spsc::{self, Consumer, ConsumerCore, Producer, ProducerCore};
use crate::sync::Arc;
use crate::RingError;

/// A single-producer single-consumer ring of byte messages in the shared layout.
///
/// Create it in Rust memory with [`ByteRing::new`], or over memory from outside
/// with [`ByteRing::init_at`] / [`ByteRing::attach`]; then [`ByteRing::split`] it
/// into its [`ByteProducer`] and [`ByteConsumer`] halves.
pub struct ByteRing {
    region: Arc<Region>,
}

impl ByteRing {
    /// Creates a ring with `capacity` data bytes in a Rust allocation.
    ///
    /// # Errors
    /// [`RingError::Capacity`] unless `capacity` is a power of two in `64..=2^30`.
    pub fn new(capacity: usize) -> Result<ByteRing, RingError> {
        let capacity = spsc::check_capacity(capacity)?;
        Ok(ByteRing {
            region: spsc::allocate(capacity, KIND_BYTES, 0),
        })
    }

    /// Writes a fresh, empty kind-1 header at `ptr` and returns the ring over it.
    ///
    /// # Errors
    /// [`RingError::Capacity`] for a bad `capacity`; [`RingError::BadMemory`] if `ptr`
    /// is null or not 4-aligned, or `len < HEADER_LEN + capacity`.
    ///
    /// # Safety
    /// `ptr` is valid for reads and writes of `len` bytes for as long as the ring or
    /// any half of it lives; nothing else uses the memory as anything but this
    /// ring; across all parties (Rust and JS) there is at most one producer and one
    /// consumer, and they follow the protocol in `docs/LAYOUT.md` (the header is only
    /// accessed atomically). Rust-side bounds checks make a misbehaving peer unable
    /// to cause accesses outside the region, but data races it causes are its bug.
    #[cfg(not(loom))]
    pub unsafe fn init_at(
        ptr: *mut u8,
        len: usize,
        capacity: usize,
    ) -> Result<ByteRing, RingError> {
        let capacity = spsc::check_capacity(capacity)?;
        // SAFETY: the caller's contract is the one `init_external` needs.
        let region = unsafe { spsc::init_external(ptr, len, capacity, KIND_BYTES, 0) }?;
        Ok(ByteRing { region })
    }

    /// Attaches to a kind-1 ring already initialised at `ptr` (by Rust or JS),
    /// keeping its current contents and positions.
    ///
    /// # Errors
    /// [`RingError::BadMemory`] for a null/misaligned/short region;
    /// [`RingError::BadHeader`] for a wrong magic, version, kind, capacity,
    /// record size or inconsistent head/tail.
    ///
    /// # Safety
    /// Same as [`ByteRing::init_at`].
    #[cfg(not(loom))]
    pub unsafe fn attach(ptr: *mut u8, len: usize) -> Result<ByteRing, RingError> {
        // SAFETY: the caller's contract is the one `attach_external` needs.
        let (region, _) = unsafe { spsc::attach_external(ptr, len, KIND_BYTES) }?;
        Ok(ByteRing { region })
    }

    /// Data capacity in bytes.
    pub fn capacity(&self) -> usize {
        self.region.capacity() as usize
    }

    /// Longest message accepted: `capacity / 2 - 4`.
    pub fn max_message_len(&self) -> usize {
        layout::max_message_len(self.capacity())
    }

    /// Start of the region (header first), e.g. to hand a Rust-owned ring to JS.
    /// Valid while this ring or one of its halves lives.
    #[cfg(not(loom))]
    pub fn as_ptr(&self) -> *mut u8 {
        self.region.base()
    }

    /// Length of the region in bytes (`HEADER_LEN + capacity`).
    pub fn region_len(&self) -> usize {
        layout::region_len(self.capacity())
    }

    /// Splits the ring into its producer and consumer. Drop the half another party
    /// (e.g. JS) plays.
    pub fn split(self) -> (ByteProducer, ByteConsumer) {
        (
            Producer {
                core: ProducerCore::new(Arc::clone(&self.region), 4),
                framing: Messages,
            },
            Consumer {
                core: ConsumerCore::new(self.region, 4),
                framing: Messages,
            },
        )
    }
}

impl std::fmt::Debug for ByteRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ByteRing")
            .field("capacity", &self.capacity())
            .finish()
    }
}

/// The framing of a [`ByteRing`]: variable-length messages, each a `u32` length, the
/// payload and padding to 4 bytes, with a wrap marker where one does not fit before the end.
#[derive(Clone, Copy, Debug)]
pub struct Messages;

/// The producing half of a [`ByteRing`].
pub type ByteProducer = Producer<Messages>;

impl ByteProducer {
    /// Data capacity in bytes.
    pub fn capacity(&self) -> usize {
        self.core.capacity() as usize
    }

    /// Longest message accepted: `capacity / 2 - 4`.
    pub fn max_message_len(&self) -> usize {
        layout::max_message_len(self.capacity())
    }

    fn check_len(&self, len: usize) -> Result<(), RingError> {
        let max = self.max_message_len();
        if len > max {
            Err(RingError::MessageTooLarge { len, max })
        } else {
            Ok(())
        }
    }

    /// Reserves space for a `len`-byte message after position `tail`, writing the
    /// wrap marker and length word. Returns (payload offset, position after it).
    fn reserve_one(&mut self, tail: u32, len: usize) -> Result<Option<(u32, u32)>, RingError> {
        let cap = self.core.capacity();
        let total = layout::message_footprint(len) as u32;
        let off = tail & (cap - 1);
        let to_end = cap - off;
        let (need, start) = if total <= to_end {
            (total, off)
        } else {
            (to_end + total, 0)
        };
        if self.core.free_from(tail, need)? < need {
            return Ok(None);
        }
        let region = &self.core.region;
        // SAFETY: `[tail, tail + need)` is free (checked against head), so the
        // consumer does not access it until we publish; both writes are in it.
        unsafe {
            if start != off {
                region.write_u32(off, WRAP_MARKER);
            }
            region.write_u32(start, len as u32);
        }
        Ok(Some((start + LEN_PREFIX as u32, tail.wrapping_add(need))))
    }

    /// Pushes one message. `Ok(false)` when the ring is too full right now.
    ///
    /// # Errors
    /// [`RingError::MessageTooLarge`] when `msg.len() > max_message_len()`;
    /// [`RingError::Corrupt`] when the peer broke the protocol.
    pub fn push(&mut self, msg: &[u8]) -> Result<bool, RingError> {
        self.push_with(msg.len(), |dst| dst.copy_from_slice(msg))
    }

    /// Pushes one `len`-byte message written in place by `fill` (zero-copy).
    /// `fill` is not called when the ring is full (`Ok(false)`).
    ///
    /// # Errors
    /// As [`ByteProducer::push`].
    pub fn push_with(
        &mut self,
        len: usize,
        fill: impl FnOnce(&mut [u8]),
    ) -> Result<bool, RingError> {
        self.check_len(len)?;
        let tail = self.core.tail;
        let Some((payload, next)) = self.reserve_one(tail, len)? else {
            return Ok(false);
        };
        {
            // SAFETY: reserved above, not yet published: only we access it.
            let mut dst = unsafe { self.core.region.bytes_mut(payload, len) };
            fill(&mut dst);
        }
        self.core.publish(next);
        Ok(true)
    }

    /// Pushes as many of `msgs` as fit, in order, publishing them with one store.
    /// Returns how many were pushed.
    ///
    /// # Errors
    /// [`RingError::MessageTooLarge`] if any message is too large (checked first;
    /// nothing is pushed then); [`RingError::Corrupt`] as for `push`.
    pub fn push_batch(&mut self, msgs: &[&[u8]]) -> Result<usize, RingError> {
        for m in msgs {
            self.check_len(m.len())?;
        }
        let mut tail = self.core.tail;
        let mut n = 0;
        for m in msgs {
            let Some((payload, next)) = self.reserve_one(tail, m.len())? else {
                break;
            };
            // SAFETY: reserved above, not yet published: only we access it.
            unsafe { self.core.region.write_bytes(payload, m) };
            tail = next;
            n += 1;
        }
        if n > 0 {
            self.core.publish(tail);
        }
        Ok(n)
    }

    /// Bytes in use as seen by the producer (reloads the consumer position).
    ///
    /// # Errors
    /// [`RingError::Corrupt`] when the peer broke the protocol.
    pub fn used_bytes(&mut self) -> Result<usize, RingError> {
        self.core.used().map(|u| u as usize)
    }
}

/// Where a message sits: payload offset, length and the position after it.
struct Message {
    off: u32,
    len: u32,
    next: u32,
}

/// The consuming half of a [`ByteRing`].
pub type ByteConsumer = Consumer<Messages>;

impl ByteConsumer {
    /// Data capacity in bytes.
    pub fn capacity(&self) -> usize {
        self.core.capacity() as usize
    }

    /// Finds the next message at or after `head`, skipping wrap markers (and
    /// advancing `head` past them).
    fn next(&mut self, head: &mut u32) -> Result<Option<Message>, RingError> {
        let cap = self.core.capacity();
        let max = layout::max_message_len(cap as usize);
        loop {
            let avail = self.core.available_from(*head, 4)?;
            if avail == 0 {
                return Ok(None);
            }
            let off = *head & (cap - 1);
            let to_end = cap - off;
            // SAFETY: `[head, tail)` was published (Acquire on tail) and is ours until
            // we release it; `avail >= 4` since positions are multiples of 4.
            let len = unsafe { self.core.region.read_u32(off) };
            if len == WRAP_MARKER {
                if to_end > avail {
                    return Err(RingError::Corrupt {
                        reason: "wrap marker past tail",
                    });
                }
                *head = head.wrapping_add(to_end);
                continue;
            }
            let total = layout::message_footprint(len as usize) as u64;
            if len as usize > max || total > u64::from(avail.min(to_end)) {
                return Err(RingError::Corrupt {
                    reason: "message length",
                });
            }
            return Ok(Some(Message {
                off: off + LEN_PREFIX as u32,
                len,
                next: head.wrapping_add(total as u32),
            }));
        }
    }

    /// Pops one message and passes it to `f` in place (zero-copy); the space is
    /// released when `f` returns. `Ok(None)` when the ring is empty.
    ///
    /// # Errors
    /// [`RingError::Corrupt`] when the peer broke the protocol.
    pub fn pop_with<R>(&mut self, f: impl FnOnce(&[u8]) -> R) -> Result<Option<R>, RingError> {
        let mut head = self.core.head;
        let result = match self.next(&mut head)? {
            Some(m) => {
                let r = {
                    // SAFETY: published and not yet released: the producer leaves it alone.
                    let data = unsafe { self.core.region.bytes(m.off, m.len as usize) };
                    f(&data)
                };
                head = m.next;
                Some(r)
            }
            None => None,
        };
        if head != self.core.head {
            self.core.release(head);
        }
        Ok(result)
    }

    /// Pops one message into `out` (replacing its contents); returns its length,
    /// or `Ok(None)` when the ring is empty.
    ///
    /// # Errors
    /// [`RingError::Corrupt`] when the peer broke the protocol.
    pub fn pop_into(&mut self, out: &mut Vec<u8>) -> Result<Option<usize>, RingError> {
        self.pop_with(|m| {
            out.clear();
            out.extend_from_slice(m);
            m.len()
        })
    }

    /// Pops up to `max` messages, passing each to `f` in place, and releases their
    /// space with one store at the end. Returns how many were popped.
    ///
    /// # Errors
    /// [`RingError::Corrupt`] when the peer broke the protocol (messages passed to
    /// `f` before that are released).
    pub fn pop_many(&mut self, max: usize, mut f: impl FnMut(&[u8])) -> Result<usize, RingError> {
        let mut head = self.core.head;
        let mut n = 0;
        let mut result = Ok(());
        while n < max {
            match self.next(&mut head) {
                Ok(Some(m)) => {
                    {
                        // SAFETY: published and not yet released: the producer leaves it alone.
                        let data = unsafe { self.core.region.bytes(m.off, m.len as usize) };
                        f(&data);
                    }
                    head = m.next;
                    n += 1;
                }
                Ok(None) => break,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        if head != self.core.head {
            self.core.release(head);
        }
        result.map(|()| n)
    }
}
