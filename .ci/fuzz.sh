#!/usr/bin/env bash
# Native fuzzing of the parsing-like pieces (ring headers/positions/framing in shared memory, the
# engine's submission records, the event records) on the stable toolchain: cargo-fuzz needs
# nightly, which this CI cannot install. fuzz/ is its own cargo workspace (the main build never
# compiles it); see fuzz/README.md.
#  1. lint + `cargo test` of fuzz/ (a fixed-seed pass over every target and the saved corpus);
#  2. the bounded random driver: ZEROSOCK_FUZZ_SECONDS per target (default 15), seed
#     ZEROSOCK_FUZZ_SEED (default 1); a panic or an input slower than its limit fails the step
#     and is saved under fuzz/artifacts/;
#  3. coverage-guided AFL++ through cargo-afl (works on stable) when ZEROSOCK_AFL=1: installs
#     cargo-afl if missing, then ZEROSOCK_AFL_SECONDS per target (default 20); any saved crash
#     or hang (> 2 s) fails the step.
set -euo pipefail
cd "$(dirname "$0")/.."
root_target="${CARGO_TARGET_DIR:-$PWD/target}"
export CARGO_TARGET_DIR="$root_target/fuzz"
SECS=${ZEROSOCK_FUZZ_SECONDS:-15}

if cargo clippy --version >/dev/null 2>&1; then
  cargo clippy --manifest-path fuzz/Cargo.toml --all-targets -- -D warnings
  CARGO_TARGET_DIR="$root_target/tools" cargo clippy --manifest-path tools/seccomp-exec/Cargo.toml -- -D warnings
fi
if cargo fmt --version >/dev/null 2>&1; then
  cargo fmt --manifest-path fuzz/Cargo.toml --check
  cargo fmt --manifest-path fuzz/afl/Cargo.toml --check
  cargo fmt --manifest-path tools/seccomp-exec/Cargo.toml --check
fi
cargo test --release --manifest-path fuzz/Cargo.toml
cargo run --release --quiet --manifest-path fuzz/Cargo.toml -- all --seconds "$SECS"

if [ "${ZEROSOCK_AFL:-0}" != 1 ]; then
  echo "fuzz: AFL++ (coverage-guided) not requested; ZEROSOCK_AFL=1 runs it"
  exit 0
fi
if ! cargo afl --version >/dev/null 2>&1; then
  cargo install cargo-afl --locked --quiet
fi
cargo afl config --build >/dev/null 2>&1 || true # builds AFL++ once per toolchain; ok if done
AFL_SECS=${ZEROSOCK_AFL_SECONDS:-20}
export CARGO_TARGET_DIR="$root_target/afl"
cargo afl build --release --quiet --manifest-path fuzz/afl/Cargo.toml
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$root_target/fuzz/release/zerosock-fuzz" --emit-seeds "$work/seeds"
export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 AFL_NO_AFFINITY=1
status=0
for t in $("$root_target/fuzz/release/zerosock-fuzz" --list); do
  in="$work/seeds"
  if compgen -G "fuzz/corpus/$t/*" >/dev/null; then
    in="$work/in-$t"
    mkdir -p "$in"
    cp "$work/seeds/"* "fuzz/corpus/$t/"* "$in/"
  fi
  cargo afl fuzz -V "$AFL_SECS" -t 2000 -i "$in" -o "$work/$t" "$CARGO_TARGET_DIR/release/$t" >"$work/$t.log" 2>&1 || {
    tail -20 "$work/$t.log"
    status=1
    continue
  }
  stats="$work/$t/default/fuzzer_stats"
  get() { awk -v k="$1" '$1 == k { print $3 }' "$stats"; }
  echo "fuzz: AFL++ $t: $(get execs_done) execs in ${AFL_SECS}s, corpus $(get corpus_count), edges $(get edges_found), crashes $(get saved_crashes), hangs $(get saved_hangs)"
  if [ "$(get saved_crashes)" != 0 ] || [ "$(get saved_hangs)" != 0 ]; then
    mkdir -p "fuzz/artifacts/$t"
    cp "$work/$t/default/crashes/"id* "$work/$t/default/hangs/"id* "fuzz/artifacts/$t/" 2>/dev/null || true
    echo "fuzz: AFL++ findings of $t copied to fuzz/artifacts/$t/ (replay: zerosock-fuzz $t --replay FILE)" >&2
    status=1
  fi
done
exit $status
