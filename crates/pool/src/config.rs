//! [`PoolConfig`] and [`SizeClass`]: what the pool maps, checked before mapping.

use crate::handle::MAX_BUFFERS_PER_CLASS;
use crate::PoolError;

/// Most size classes a pool may have.
pub const MAX_CLASSES: usize = 16;
/// Most regions (growth steps) one class may map.
pub const MAX_REGIONS_PER_CLASS: u32 = 4096;
/// Buffer sizes must be a multiple of this (one cache line).
pub const BUFFER_ALIGN: usize = 64;
/// Largest buffer size (io_uring lengths are `u32`; this keeps regions sane).
pub const MAX_BUFFER_SIZE: usize = 1 << 30;
/// Largest number of live [`LocalPool`](crate::LocalPool)s with their own
/// return ring; more live locals still work, without a ring (their foreign
/// releases go to the shared free list).
pub const MAX_OWNERS: usize = 1024;

/// One size class: fixed-size buffers, mapped `count` at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SizeClass {
    /// Bytes per buffer; a multiple of [`BUFFER_ALIGN`], at most [`MAX_BUFFER_SIZE`].
    pub size: usize,
    /// Buffers mapped up front, and per growth step.
    pub count: u32,
    /// Hard limit on buffers (`>= count`). `None`: grow by another region of
    /// `count` buffers whenever the class runs dry, up to
    /// `min(MAX_BUFFERS_PER_CLASS, count * MAX_REGIONS_PER_CLASS)`.
    pub max_count: Option<u32>,
}

/// What the pool maps. Classes are listed by strictly increasing `size`, so
/// class 0 is the smallest (the copy-break class).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolConfig {
    /// The size classes, 1..=[`MAX_CLASSES`] of them, sizes strictly increasing.
    pub classes: Vec<SizeClass>,
    /// Fault every page in when a region is mapped (`MADV_POPULATE_WRITE`,
    /// falling back to touching each page), so the hot path never page-faults.
    pub populate: bool,
}

/// Class number of the small (copy-break) class in [`PoolConfig::default`].
pub const SMALL_CLASS: usize = 0;
/// Class number of the large (receive) class in [`PoolConfig::default`].
pub const LARGE_CLASS: usize = 1;

impl Default for PoolConfig {
    /// Small: 2 KiB × 1024 (one 2 MiB region). Large: 64 KiB × 256 (16 MiB).
    /// Both grow without a hard limit; pages are faulted in lazily.
    fn default() -> PoolConfig {
        PoolConfig {
            classes: vec![
                SizeClass {
                    size: 2 * 1024,
                    count: 1024,
                    max_count: None,
                },
                SizeClass {
                    size: 64 * 1024,
                    count: 256,
                    max_count: None,
                },
            ],
            populate: false,
        }
    }
}

/// Numbers derived from one checked [`SizeClass`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClassPlan {
    /// Class number.
    pub class: usize,
    pub size: usize,
    pub step: u32,
    /// `log2(step)` when `step` is a power of two (index → region by shift).
    pub step_shift: Option<u32>,
    /// Buffers the class may ever have (multiple of `step`).
    pub limit: u32,
    pub max_regions: u32,
    /// Buffers moved per refill from / spill to the shared free list.
    pub batch: usize,
    /// Capacity of a local LIFO cache for this class.
    pub cache_cap: usize,
}

impl PoolConfig {
    /// Checks the configuration and derives per-class numbers.
    pub(crate) fn plan(&self) -> Result<Vec<ClassPlan>, PoolError> {
        if self.classes.is_empty() || self.classes.len() > MAX_CLASSES {
            return Err(PoolError::config(format!(
                "need 1..={MAX_CLASSES} size classes, got {}",
                self.classes.len()
            )));
        }
        let mut plans = Vec::with_capacity(self.classes.len());
        let mut prev_size = 0;
        for (i, class) in self.classes.iter().enumerate() {
            plans.push(plan_class(i, class, prev_size)?);
            prev_size = class.size;
        }
        Ok(plans)
    }
}

fn plan_class(i: usize, c: &SizeClass, prev_size: usize) -> Result<ClassPlan, PoolError> {
    let bad = |what: String| Err(PoolError::config(format!("size class {i}: {what}")));
    if c.size == 0 || !c.size.is_multiple_of(BUFFER_ALIGN) || c.size > MAX_BUFFER_SIZE {
        return bad(format!(
            "size {} must be a non-zero multiple of {BUFFER_ALIGN} up to {MAX_BUFFER_SIZE}",
            c.size
        ));
    }
    if c.size <= prev_size {
        return bad(format!(
            "size {} must be larger than the previous class's {prev_size}",
            c.size
        ));
    }
    if c.count == 0 || c.count > MAX_BUFFERS_PER_CLASS {
        return bad(format!(
            "count {} must be in 1..={MAX_BUFFERS_PER_CLASS}",
            c.count
        ));
    }
    if c.size
        .checked_mul(c.count as usize)
        .is_none_or(|b| b > 1 << 40)
    {
        return bad("size * count is larger than 1 TiB".into());
    }
    let limit = match c.max_count {
        Some(max) => {
            if max < c.count || max > MAX_BUFFERS_PER_CLASS {
                return bad(format!(
                    "max_count {max} must be in count ({})..={MAX_BUFFERS_PER_CLASS}",
                    c.count
                ));
            }
            if max.div_ceil(c.count) > MAX_REGIONS_PER_CLASS {
                return bad(format!(
                    "max_count {max} needs more than {MAX_REGIONS_PER_CLASS} growth steps of {}",
                    c.count
                ));
            }
            max
        }
        None => {
            let steps = (MAX_BUFFERS_PER_CLASS / c.count).min(MAX_REGIONS_PER_CLASS);
            steps * c.count
        }
    };
    let batch = (c.count as usize / 16).clamp(1, 32);
    Ok(ClassPlan {
        class: i,
        size: c.size,
        step: c.count,
        step_shift: c.count.is_power_of_two().then(|| c.count.trailing_zeros()),
        limit,
        max_regions: limit.div_ceil(c.count),
        batch,
        cache_cap: batch * 4,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(classes: Vec<SizeClass>) -> PoolConfig {
        PoolConfig {
            classes,
            populate: false,
        }
    }

    fn class(size: usize, count: u32, max_count: Option<u32>) -> SizeClass {
        SizeClass {
            size,
            count,
            max_count,
        }
    }

    #[test]
    fn default_plans() {
        let plans = PoolConfig::default().plan().unwrap();
        assert_eq!(plans.len(), 2);
        assert_eq!(plans[SMALL_CLASS].size, 2048);
        assert_eq!(plans[LARGE_CLASS].size, 65536);
        assert_eq!(plans[0].batch, 32);
        assert_eq!(plans[0].limit % plans[0].step, 0);
    }

    #[test]
    fn rejects_bad_configs() {
        let bad = [
            cfg(vec![]),
            cfg(vec![class(100, 4, None)]),
            cfg(vec![class(0, 4, None)]),
            cfg(vec![class(128, 0, None)]),
            cfg(vec![class(128, 4, Some(3))]),
            cfg(vec![class(128, 4, None), class(128, 4, None)]),
            cfg(vec![class(256, 4, None), class(128, 4, None)]),
            cfg(vec![class(128, 1, Some(MAX_REGIONS_PER_CLASS + 1))]),
            cfg(vec![class(MAX_BUFFER_SIZE * 2, 1, None)]),
            cfg(vec![class(64, 4, None); MAX_CLASSES + 1]),
        ];
        for c in bad {
            let err = c.plan().unwrap_err();
            assert_eq!(err.code(), "ERR_ZEROSOCK_POOL_CONFIG", "{c:?}");
        }
    }

    #[test]
    fn hard_limit_rounds_regions_up() {
        let plans = cfg(vec![class(64, 4, Some(10))]).plan().unwrap();
        assert_eq!(plans[0].limit, 10);
        assert_eq!(plans[0].max_regions, 3);
    }
}
