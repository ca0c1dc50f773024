#!/usr/bin/env bash
# io_uring blocked for real: runs part of the ava suite inside tools/seccomp-exec, a seccomp
# filter that makes io_uring_setup/enter/register fail with EPERM (what container runtimes'
# default profiles do). zerosock's 'auto' must run everything on epoll there, printing its one
# fallback warning. (__test__/seccomp.spec.mjs checks the warning line and integrity in the
# normal suite; this runs the echo, lifecycle, misuse and fault tests themselves blocked.)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}/tools"
cargo build --release --quiet --manifest-path tools/seccomp-exec/Cargo.toml
exe="$CARGO_TARGET_DIR/release/seccomp-exec"
unset ZEROSOCK_BACKEND
"$exe" -- node -e '
  const p = require("zerosock").probe();
  if (p.ioUring.available || p.backend !== "epoll") { console.error("io_uring still usable inside the filter"); process.exit(1); }
  console.log(`seccomp: inside the filter: backend ${p.backend}, io_uring: ${p.ioUring.error}`);
'
"$exe" -- npx ava __test__/echo.spec.mjs __test__/lifecycle.spec.mjs __test__/misuse.spec.mjs \
  __test__/faults.spec.mjs __test__/fuzz-api.spec.mjs
