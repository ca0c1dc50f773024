//! Building a ring region from fuzz input: a fresh ring, a plausible header with fuzzed
//! fields and positions over random data, or raw bytes; attached through a pointer and length
//! that may themselves be wrong.

use crate::ring_mem::RingMem;
use arbitrary::{Result, Unstructured};
use zerosock_ring::layout;

/// How the region under test was made.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// `init_at` on zeroed memory: the ring is empty and consistent; an exact model applies.
    Fresh,
    /// A header written field by field (each field usually valid), arbitrary positions,
    /// random data.
    Crafted,
    /// Every byte from the input.
    Raw,
}

/// The memory, and where / how long the ring is told it is.
pub struct Region {
    pub mem: RingMem,
    pub origin: Origin,
    /// Byte offset of the ring start inside `mem` (non-zero: misaligned on purpose).
    pub shift: usize,
    /// Length passed to `attach`/`init_at` (at most `mem.len() - shift`).
    pub len: usize,
    pub capacity: usize,
    /// Record size written to the header (kind 2), or 0.
    pub record_size: u32,
}

/// Mostly `valid`, sometimes any value.
pub fn mostly(u: &mut Unstructured<'_>, valid: u32) -> Result<u32> {
    Ok(if u.ratio(7u8, 8u8)? {
        valid
    } else {
        u.arbitrary()?
    })
}

/// A data capacity of 64..=4096 bytes (powers of two, as the layout requires).
pub fn capacity(u: &mut Unstructured<'_>) -> Result<usize> {
    Ok(1usize << u.int_in_range(6u32..=12)?)
}

/// Picks a record size for a capacity (kind 2), or gives 0 (kind 1).
pub type RecordSizeFor = fn(&mut Unstructured<'_>, usize) -> Result<u32>;

/// Makes a region for a ring of `kind`. `Fresh` regions are left zeroed for the caller's
/// `init_at`.
pub fn region(u: &mut Unstructured<'_>, kind: u32, record_size: RecordSizeFor) -> Result<Region> {
    let capacity = capacity(u)?;
    let record_size = record_size(u, capacity)?;
    let origin = match u.int_in_range(0u8..=9)? {
        0..=4 => Origin::Fresh,
        5..=8 => Origin::Crafted,
        _ => Origin::Raw,
    };
    let full = layout::region_len(capacity);
    let slack = u.int_in_range(0usize..=16)? * 4;
    let mem = RingMem::new(full + slack + 8);
    let (shift, len) = if origin == Origin::Fresh || u.ratio(7u8, 8u8)? {
        (0, full + slack)
    } else {
        // Misaligned start and/or a length shorter than the header says.
        let shift = *u.choose(&[0usize, 1, 2, 3, 4, 8])?;
        let len = u.int_in_range(0..=full + slack)?;
        (shift, len.min(mem.len() - shift))
    };
    match origin {
        Origin::Fresh => {}
        Origin::Raw => {
            let bytes = u.bytes(u.len().min(full))?;
            mem.fill(bytes);
        }
        Origin::Crafted => {
            let data = u.bytes(u.len().min(capacity).min(u.len() / 2))?;
            let mut image = vec![0u8; full];
            image[layout::HEADER_LEN..layout::HEADER_LEN + data.len()].copy_from_slice(data);
            mem.fill(&image);
            if shift == 0 && len >= layout::HEADER_LEN {
                write_header(u, &mem, kind, capacity as u32, record_size)?;
            }
        }
    }
    Ok(Region {
        mem,
        origin,
        shift,
        len,
        capacity,
        record_size,
    })
}

/// Writes a header whose fields are each usually valid, with fuzzed head/tail.
fn write_header(
    u: &mut Unstructured<'_>,
    mem: &RingMem,
    kind: u32,
    capacity: u32,
    record_size: u32,
) -> Result<()> {
    mem.store_header(layout::OFF_VERSION, mostly(u, layout::VERSION)?);
    mem.store_header(layout::OFF_KIND, mostly(u, kind)?);
    mem.store_header(layout::OFF_CAPACITY, mostly(u, capacity)?);
    mem.store_header(layout::OFF_RECORD_SIZE, mostly(u, record_size)?);
    let align = if record_size == 0 { 4 } else { record_size };
    let head = if u.ratio(3u8, 4u8)? {
        u.arbitrary::<u32>()? / align * align
    } else {
        u.arbitrary()?
    };
    let used = if u.ratio(3u8, 4u8)? {
        u.int_in_range(0..=capacity)? / align * align
    } else {
        u.arbitrary()?
    };
    mem.store_header(layout::OFF_HEAD, head);
    mem.store_header(layout::OFF_TAIL, head.wrapping_add(used));
    mem.store_header(layout::OFF_CONSUMER_WAITING, mostly(u, 0)?);
    mem.store_header(layout::OFF_MAGIC, mostly(u, layout::MAGIC)?);
    Ok(())
}

/// What a hostile peer does between two ring operations: overwrite a header word (usually a
/// position, moved by a small or arbitrary amount) or a word of the data area.
pub fn corrupt(u: &mut Unstructured<'_>, r: &Region) -> Result<()> {
    if r.shift != 0 || r.len < layout::HEADER_LEN + 4 {
        return Ok(());
    }
    if u.ratio(2u8, 3u8)? {
        let off = *u.choose(&crate::ring_mem::HEADER_TARGETS)?;
        let old = r.mem.load_header(off);
        let new = match u.int_in_range(0u8..=3)? {
            0 => old.wrapping_add(u.int_in_range(1u32..=64)?),
            1 => old.wrapping_sub(u.int_in_range(1u32..=64)?),
            2 => old.wrapping_add(r.capacity as u32),
            _ => u.arbitrary()?,
        };
        r.mem.store_header(off, new);
    } else {
        let off = u.int_in_range(0..=r.capacity.saturating_sub(4))? / 4 * 4;
        let value = if u.ratio(1u8, 2u8)? {
            layout::WRAP_MARKER
        } else {
            u.arbitrary()?
        };
        r.mem.scribble_data(off, value);
    }
    Ok(())
}
