//! [`Mapping`]: one anonymous private `mmap`, 2 MiB aligned when it is that big.

use crate::PoolError;
use std::ptr::NonNull;

/// Huge-page size used for alignment.
pub(crate) const HUGE_PAGE: usize = 2 * 1024 * 1024;

/// An anonymous, private, read-write mapping, unmapped on drop.
#[derive(Debug)]
pub(crate) struct Mapping {
    base: NonNull<u8>,
    /// Bytes mapped (a multiple of the page size).
    mapped_len: usize,
}

// SAFETY: the mapping is plain memory owned by this value; the pool hands out
// disjoint buffers inside it and synchronises their hand-over itself.
unsafe impl Send for Mapping {}
// SAFETY: `&Mapping` only exposes the base address and length.
unsafe impl Sync for Mapping {}

fn page_size() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 {
        p as usize
    } else {
        4096
    }
}

fn last_errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

impl Mapping {
    /// Maps at least `len` bytes. Mappings of at least [`HUGE_PAGE`] bytes
    /// start on a 2 MiB boundary (over-map, then trim both ends), so the
    /// kernel can back them with transparent huge pages. With `populate`,
    /// every page is faulted in before this returns.
    pub(crate) fn new(len: usize, populate: bool) -> Result<Mapping, PoolError> {
        let page = page_size();
        let mapped_len = len
            .checked_next_multiple_of(page)
            .filter(|&l| l > 0)
            .ok_or(PoolError::Mmap {
                errno: libc::EINVAL,
                len,
            })?;
        let align = if mapped_len >= HUGE_PAGE {
            HUGE_PAGE
        } else {
            page
        };
        let over_len = mapped_len + (align - page);
        let raw = map_anonymous(over_len)?;
        let start = raw.next_multiple_of(align);
        let head = start - raw;
        let tail = over_len - head - mapped_len;
        if head > 0 {
            // SAFETY: [raw, raw+head) is the front of the mapping we just made
            // and nothing refers to it.
            unsafe { libc::munmap(raw as *mut libc::c_void, head) };
        }
        if tail > 0 {
            // SAFETY: the tail after [start, start+mapped_len) is ours and unused.
            unsafe { libc::munmap((start + mapped_len) as *mut libc::c_void, tail) };
        }
        let base = NonNull::new(start as *mut u8).ok_or(PoolError::Mmap {
            errno: libc::EINVAL,
            len,
        })?;
        let mapping = Mapping { base, mapped_len };
        if populate {
            mapping.populate(page);
        }
        Ok(mapping)
    }

    fn populate(&self, page: usize) {
        // SAFETY: the range is exactly our own read-write mapping.
        let rc = unsafe {
            libc::madvise(
                self.base.as_ptr() as *mut libc::c_void,
                self.mapped_len,
                libc::MADV_POPULATE_WRITE,
            )
        };
        if rc != 0 {
            // Kernels before 5.14 lack MADV_POPULATE_WRITE: fault pages in by hand.
            for off in (0..self.mapped_len).step_by(page) {
                // SAFETY: `off < mapped_len`, inside our mapping; the memory is
                // fresh zero-filled and not yet handed out, so a volatile write
                // of 0 changes nothing but the page's residency.
                unsafe { self.base.as_ptr().add(off).write_volatile(0) };
            }
        }
    }

    /// First byte of the mapping.
    pub(crate) fn base(&self) -> *mut u8 {
        self.base.as_ptr()
    }

    /// Bytes mapped.
    #[cfg(test)]
    pub(crate) fn mapped_len(&self) -> usize {
        self.mapped_len
    }
}

fn map_anonymous(len: usize) -> Result<usize, PoolError> {
    // SAFETY: an anonymous private mapping at an address of the kernel's
    // choosing; it aliases nothing.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(PoolError::Mmap {
            errno: last_errno(),
            len,
        });
    }
    Ok(p as usize)
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: we own exactly this range since `new`; the pool is being torn
        // down, so no buffer pointer derived from it is used any more.
        unsafe { libc::munmap(self.base.as_ptr() as *mut libc::c_void, self.mapped_len) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_mappings_are_huge_page_aligned() {
        let m = Mapping::new(HUGE_PAGE + 4096, true).unwrap();
        assert_eq!(m.base() as usize % HUGE_PAGE, 0);
        assert!(m.mapped_len() >= HUGE_PAGE + 4096);
        // SAFETY: inside our fresh mapping.
        unsafe {
            m.base().write(7);
            assert_eq!(m.base().add(m.mapped_len() - 1).read(), 0);
        }
    }

    #[test]
    fn small_mappings_are_page_aligned() {
        let m = Mapping::new(100, false).unwrap();
        assert_eq!(m.base() as usize % page_size(), 0);
        assert_eq!(m.mapped_len(), page_size());
    }

    #[test]
    fn impossible_mapping_reports_errno() {
        let err = Mapping::new(usize::MAX / 2, false).unwrap_err();
        assert_eq!(err.code(), "ERR_ZEROSOCK_POOL_MMAP");
        assert!(matches!(err, PoolError::Mmap { errno, .. } if errno != 0));
    }
}
