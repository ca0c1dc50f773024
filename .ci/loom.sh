#!/usr/bin/env bash
# loom permutation tests of the rings and the pool's return handoff (bounded models).
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/loom"
for crate in zerosock-ring zerosock-pool; do
  dir=crates/${crate#zerosock-}
  if [ -f "$dir/tests/loom.rs" ]; then
    cargo test -p "$crate" --release --test loom
  else
    echo "loom: $crate has no tests/loom.rs yet"
  fi
done
