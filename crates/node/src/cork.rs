//! `corkReplay`: runs crates/cork's policy over a trace from JS, for the conformance test of
//! the JS implementation (ts/net/socket/cork-policy.ts). Conversion only.

use napi::bindgen_prelude::{Int32Array, Result};
use napi_derive::napi;
use zerosock_cork::{replay, CorkPolicy, FlushReason, Out, Step};

/// Cork settings for `corkReplay`.
#[napi(object)]
pub struct CorkPolicyOptions {
    /// Capacity of a cork buffer (`cork.maxBytes`).
    pub max_bytes: u32,
    /// How long corked bytes may wait for an in-flight flush, µs (0 never waits).
    pub max_delay_us: u32,
    /// Messages this big or bigger bypass the cork buffer.
    pub large_send: u32,
    /// `cork: false`: every message is sealed on its own.
    pub enabled: bool,
}

/// Replays `[op, arg]` steps (1 send, 2 flush, 3 end of tick, 4 complete, 5 timer, 6 end);
/// returns `[reasonIndex, bytes]` pairs (-1 = sent directly).
#[napi]
pub fn cork_replay(policy: CorkPolicyOptions, steps: Int32Array) -> Result<Int32Array> {
    let p = CorkPolicy {
        max_bytes: policy.max_bytes as usize,
        max_delay_us: policy.max_delay_us,
        large_send: policy.large_send as usize,
        enabled: policy.enabled,
    };
    let arg = |v: i32| v.max(0) as usize;
    let steps: Vec<Step> = steps
        .chunks_exact(2)
        .filter_map(|s| match s[0] {
            1 => Some(Step::Send(arg(s[1]))),
            2 => Some(Step::Flush),
            3 => Some(Step::EndOfTick),
            4 => Some(Step::Complete(arg(s[1]))),
            5 => Some(Step::Timer),
            6 => Some(Step::End),
            _ => None,
        })
        .collect();
    let (out, _) = replay(&p, &steps);
    let mut flat = Vec::with_capacity(out.len() * 2);
    for o in out {
        match o {
            Out::Flush(reason, bytes) => {
                let i = FlushReason::ALL
                    .iter()
                    .position(|r| *r == reason)
                    .unwrap_or(0);
                flat.extend([i as i32, bytes as i32]);
            }
            Out::Direct(bytes) => flat.extend([-1, bytes as i32]),
        }
    }
    Ok(Int32Array::new(flat))
}
