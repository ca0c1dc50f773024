//! A quick pass over every target (fixed seed, a few hundred inputs each) and the saved
//! corpus, so `cargo test --manifest-path fuzz/Cargo.toml` keeps the targets honest.

use zerosock_fuzz::{rng, TARGETS};

#[test]
fn every_target_survives_a_fixed_seed() {
    for &(name, t) in TARGETS {
        let runs = if name == "submit_records" { 40 } else { 2000 };
        for i in 0..runs {
            t(&rng::input(7, i, 4096));
        }
    }
}

#[test]
fn empty_and_tiny_inputs() {
    for &(_, t) in TARGETS {
        t(&[]);
        t(&[0]);
        t(&[0xff; 3]);
    }
}

#[test]
fn saved_corpus_replays() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    for &(name, t) in TARGETS {
        let Ok(dir) = std::fs::read_dir(root.join(name)) else {
            continue;
        };
        for e in dir.flatten() {
            t(&std::fs::read(e.path()).unwrap());
        }
    }
}
