//! A long echo through two sessions in memory with everything cut at random places, the way
//! the engine drives them: ciphertext arrives in receive-sized pieces decrypted in place, the
//! plaintext buffer is small and sometimes full, and the server writes (echoes) between reads,
//! while its carry holds a cut record. Every byte must come back, in order.

mod common;

use common::*;
use zerosock_tls::TlsSession;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Reads `wire[..n]` into `s` as the engine does: a plaintext buffer of `cap`, then the
/// session's queued plaintext in buffers of `cap`.
fn engine_read(s: &mut TlsSession, wire: &mut Vec<u8>, n: usize, cap: usize) -> Vec<u8> {
    let mut incoming: Vec<u8> = wire.drain(..n).collect();
    let mut plain = vec![0u8; cap];
    let o = s.read_tls(&mut incoming, &mut plain).unwrap();
    let mut got = plain[..o.plaintext].to_vec();
    while s.plaintext_len() > 0 {
        let mut more = vec![0u8; cap];
        let k = s.read_plaintext(&mut more);
        got.extend_from_slice(&more[..k]);
    }
    got
}

fn engine_write(s: &mut TlsSession, data: &[u8], wire: &mut Vec<u8>) {
    let mut out = vec![0u8; s.ciphertext_len_bound(data.len())];
    let n = s.write_plaintext(&[data], &mut out).unwrap();
    wire.extend_from_slice(&out[..n]);
}

#[test]
fn a_long_echo_cut_at_random_places_comes_back_whole() {
    let ca = ca("Test CA");
    let srv = leaf(&ca, &["localhost"]);
    let (mut p, r) = pair(&client_config(&ca.pem), "localhost", &server_config(&srv));
    r.unwrap();
    for seed in 1..=4u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let (mut c2s, mut s2c) = (Vec::new(), Vec::new());
        let (mut sent, mut echoed) = (Vec::new(), Vec::new());
        let mut echo_pending = Vec::new();
        for _ in 0..3000 {
            match rng.below(4) {
                0 => {
                    let len = 1 + rng.below(65536);
                    let data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                    engine_write(&mut p.c, &data, &mut c2s);
                    sent.extend_from_slice(&data);
                }
                1 if !c2s.is_empty() => {
                    let n = 1 + rng.below(c2s.len().min(70_000));
                    let cap = [2048, 16_384, 65_536][rng.below(3)];
                    let got = engine_read(&mut p.s, &mut c2s, n, cap);
                    echo_pending.extend_from_slice(&got);
                }
                2 if !echo_pending.is_empty() => {
                    let n = 1 + rng.below(echo_pending.len());
                    let data: Vec<u8> = echo_pending.drain(..n).collect();
                    engine_write(&mut p.s, &data, &mut s2c);
                }
                3 if !s2c.is_empty() => {
                    let n = 1 + rng.below(s2c.len().min(70_000));
                    let got = engine_read(&mut p.c, &mut s2c, n, 65_536);
                    echoed.extend_from_slice(&got);
                }
                _ => {}
            }
        }
        // drain everything
        while !c2s.is_empty() {
            let n = c2s.len();
            let got = engine_read(&mut p.s, &mut c2s, n, 65_536);
            echo_pending.extend_from_slice(&got);
        }
        let rest = std::mem::take(&mut echo_pending);
        engine_write(&mut p.s, &rest, &mut s2c);
        while !s2c.is_empty() {
            let n = s2c.len();
            let got = engine_read(&mut p.c, &mut s2c, n, 65_536);
            echoed.extend_from_slice(&got);
        }
        assert_eq!(echoed.len(), sent.len(), "seed {seed}");
        assert!(echoed == sent, "seed {seed}: the echo differs");
    }
}
