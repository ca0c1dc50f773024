//! The bounded random driver: replays the saved corpus, then feeds each target seeded random
//! inputs for a time or count budget. A panicking input is saved and the driver exits 1.
//!
//! ```text
//! zerosock-fuzz <target|all> [--seconds N] [--runs N] [--seed N] [--max-len N] [--slow-ms N]
//! zerosock-fuzz <target> --replay FILE...
//! zerosock-fuzz --list
//! zerosock-fuzz --emit-seeds DIR
//! ```
//! Defaults: 10 s per target, seed from `ZEROSOCK_FUZZ_SEED` or 1, inputs up to 4096 bytes;
//! an input slower than 1 s (submit_records: 20 s) is a finding like a panic.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};
use zerosock_fuzz::{rng, target, Target, TARGETS};

struct Options {
    targets: Vec<(&'static str, Target)>,
    seconds: f64,
    runs: Option<u64>,
    seed: u64,
    max_len: usize,
    replay: Vec<PathBuf>,
    /// An input slower than this is a finding too (a loop that only looks like a hang).
    slow_ms: Option<u64>,
}

fn usage() -> ExitCode {
    eprintln!(
        "usage: zerosock-fuzz <target|all> [--seconds N] [--runs N] [--seed N] [--max-len N] [--slow-ms N]\n       \
         zerosock-fuzz <target> --replay FILE...\n       zerosock-fuzz --list\n       \
         zerosock-fuzz --emit-seeds DIR"
    );
    ExitCode::from(2)
}

fn parse() -> Result<Options, String> {
    let mut args = std::env::args().skip(1);
    let which = args.next().ok_or("missing target")?;
    let targets: Vec<(&'static str, Target)> = if which == "all" {
        TARGETS.to_vec()
    } else {
        let t = target(&which).ok_or_else(|| format!("unknown target {which:?}"))?;
        vec![(TARGETS.iter().find(|(n, _)| *n == which).unwrap().0, t)]
    };
    let seed = std::env::var("ZEROSOCK_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let mut o = Options {
        targets,
        seconds: 10.0,
        runs: None,
        seed,
        max_len: 4096,
        replay: Vec::new(),
        slow_ms: None,
    };
    let num = |v: Option<String>, what: &str| -> Result<f64, String> {
        v.and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("{what} needs a number"))
    };
    while let Some(a) = args.next() {
        match a.as_str() {
            "--seconds" => o.seconds = num(args.next(), "--seconds")?,
            "--runs" => o.runs = Some(num(args.next(), "--runs")? as u64),
            "--seed" => o.seed = num(args.next(), "--seed")? as u64,
            "--max-len" => o.max_len = num(args.next(), "--max-len")? as usize,
            "--slow-ms" => o.slow_ms = Some(num(args.next(), "--slow-ms")? as u64),
            "--replay" => o.replay.extend(args.by_ref().map(PathBuf::from)),
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    Ok(o)
}

/// Saved inputs of `name`: fuzz/corpus/<name>/*.
fn corpus(name: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(name);
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    files
}

/// How long one input may take before it counts as a finding: the ring and record targets
/// do a few hundred cheap calls; submit_records waits for real sockets.
fn slow_limit(name: &str, o: &Options) -> Duration {
    let ms = o.slow_ms.unwrap_or(if name == "submit_records" {
        20_000
    } else {
        1_000
    });
    Duration::from_millis(ms)
}

/// Runs one input; on a panic, or when it takes longer than `slow`, saves it and returns where.
fn attempt(name: &str, t: Target, input: &[u8], tag: &str, slow: Duration) -> Result<(), PathBuf> {
    let started = Instant::now();
    let ok = catch_unwind(AssertUnwindSafe(|| t(input))).is_ok();
    let took = started.elapsed();
    if ok && took <= slow {
        return Ok(());
    }
    let kind = if ok {
        eprintln!("zerosock-fuzz: {name}: input took {took:?} (limit {slow:?})");
        "slow"
    } else {
        "crash"
    };
    let dir = std::env::var_os("ZEROSOCK_FUZZ_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts"))
        .join(name);
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("{kind}-{tag}.bin"));
    if let Err(e) = std::fs::write(&path, input) {
        eprintln!("could not save the input to {}: {e}", path.display());
    }
    Err(path)
}

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("--list") {
        for (n, _) in TARGETS {
            println!("{n}");
        }
        return ExitCode::SUCCESS;
    }
    if std::env::args().nth(1).as_deref() == Some("--emit-seeds") {
        // Starting inputs for a coverage-guided fuzzer (AFL++ wants a non-empty directory).
        let Some(dir) = std::env::args().nth(2) else {
            return usage();
        };
        if let Err(e) = std::fs::create_dir_all(&dir) {
            eprintln!("zerosock-fuzz: {dir}: {e}");
            return ExitCode::FAILURE;
        }
        for i in 0..8 {
            let path = Path::new(&dir).join(format!("seed-{i}"));
            if let Err(e) = std::fs::write(&path, rng::input(1, i, 1024)) {
                eprintln!("zerosock-fuzz: {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        }
        return ExitCode::SUCCESS;
    }
    let o = match parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("zerosock-fuzz: {e}");
            return usage();
        }
    };
    for &(name, t) in &o.targets {
        let started = Instant::now();
        let files = if o.replay.is_empty() {
            corpus(name)
        } else {
            o.replay.clone()
        };
        for f in &files {
            let input = match std::fs::read(f) {
                Ok(b) => b,
                Err(e) => {
                    eprintln!("zerosock-fuzz: {}: {e}", f.display());
                    return ExitCode::FAILURE;
                }
            };
            if let Err(saved) = attempt(name, t, &input, "replay", slow_limit(name, &o)) {
                eprintln!(
                    "zerosock-fuzz: {name}: {} fails (copy at {})",
                    f.display(),
                    saved.display()
                );
                return ExitCode::FAILURE;
            }
        }
        if !o.replay.is_empty() {
            println!("{name}: {} inputs replayed, no finding", files.len());
            continue;
        }
        let budget = Duration::from_secs_f64(o.seconds);
        let mut i = 0u64;
        while o.runs.map_or(started.elapsed() < budget, |r| i < r) {
            let input = rng::input(o.seed, i, o.max_len);
            let tag = format!("seed{}-{i}", o.seed);
            if let Err(saved) = attempt(name, t, &input, &tag, slow_limit(name, &o)) {
                eprintln!(
                    "zerosock-fuzz: {name}: input {i} of seed {} failed; saved to {}\n  \
                     reproduce: cargo run --release --manifest-path fuzz/Cargo.toml -- {name} --replay {}",
                    o.seed,
                    saved.display(),
                    saved.display()
                );
                return ExitCode::FAILURE;
            }
            i += 1;
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "{name}: {} corpus + {i} random inputs (seed {}) in {secs:.1} s ({:.0}/s), no finding",
            files.len(),
            o.seed,
            i as f64 / secs.max(1e-9)
        );
    }
    ExitCode::SUCCESS
}
