//! SplitMix64: a small seedable generator for the random driver (inputs must be reproducible
//! from a seed, and nothing heavier is needed).

/// A SplitMix64 state.
#[derive(Clone, Debug)]
pub struct SplitMix(pub u64);

impl SplitMix {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Fills `out` with random bytes.
    pub fn fill(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(8) {
            let w = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&w[..chunk.len()]);
        }
    }
}

/// Input number `i` of a run seeded with `seed`: random bytes of a random length (mostly
/// short, sometimes up to `max_len`), so each input is reproducible on its own.
pub fn input(seed: u64, i: u64, max_len: usize) -> Vec<u8> {
    let mut r = SplitMix(seed ^ i.wrapping_mul(0xD6E8_FEB8_6659_FD93));
    let len = match r.below(4) {
        0 => r.below(64) as usize,
        1 | 2 => r.below(1024) as usize,
        _ => r.below(max_len as u64 + 1) as usize,
    };
    let mut v = vec![0u8; len];
    r.fill(&mut v);
    v
}
