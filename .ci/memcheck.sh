#!/usr/bin/env bash
# miri and AddressSanitizer need a nightly toolchain, which this CI cannot install (registries
# only), so the crates' unit and integration tests run under valgrind memcheck instead, and so
# does the native fuzz driver (fuzz/) for a bounded number of inputs: its ring targets attach to
# exactly-sized heap blocks, so any read or write outside a ring region is a memcheck error.
# Any memcheck error or definite leak fails the step (--error-exitcode=1).
#
# zerosock-uring under valgrind: valgrind runs one thread at a time (~50x slower) and a peer
# thread of an io_uring engine starves (valgrind holds its lock while the engine thread waits in
# io_uring_enter; --fair-sched does not help). Skipped
# here, and run natively by `cargo test`: the 256 MB streams and slow-reader/zerocopy streams
# (time limits), the zerocopy tests with a sender thread on io_uring (starvation), and the
# EMFILE test (valgrind virtualises RLIMIT_NOFILE and keeps descriptors of its own).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v valgrind >/dev/null 2>&1; then
  echo "memcheck: valgrind is not installed and could not be installed; skipped"
  exit 0
fi
# --fair-sched=yes: threads that spin on each other (the ring stress test) get turns in order;
# without it the two-thread stress test crawled past its 300 s limit on a busy machine.
VG=(valgrind -q --fair-sched=yes --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite)

test_bins() {
  cargo test "$@" --no-run --message-format=json 2>/dev/null |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{for(const l of s.split("\n")){if(!l)continue;const m=JSON.parse(l);if(m.reason==="compiler-artifact"&&m.executable&&m.profile.test)console.log(m.executable)}})'
}

for b in $(test_bins -p zerosock-ring -p zerosock-pool); do
  echo "memcheck: $b"
  ZEROSOCK_RING_STRESS=50000 ZEROSOCK_UNDER_VALGRIND=1 "${VG[@]}" "$b" --test-threads=2 -q
done

URING_SKIP=(
  --skip stream_256mb
  --skip slow_reader_bounded
  --skip zerocopy_stream
  --skip zerocopy_receive_epoll_zerocopy_sender
  --skip zerocopy_receive_io_uring_falls_back
)
for b in $(test_bins -p zerosock-uring); do
  case "$(basename "$b")" in
    emfile-*)
      echo "memcheck: $b skipped (valgrind virtualises RLIMIT_NOFILE)"
      continue
      ;;
  esac
  extra=()
  case "$(basename "$b")" in
    tls-*)
      # ring's assembly (AES-GCM, P-256) computes from stack words memcheck cannot prove
      # defined, so every ciphertext byte is "uninitialised" to it: crates/tls's own tests,
      # with no socket or pool in them, report it in ring::bb::verify_slices_are_equal. Bad
      # reads and writes and definite leaks are still errors here; definedness is not.
      echo "memcheck: $b with --undef-value-errors=no (ring's assembly is opaque to memcheck)"
      extra=(--undef-value-errors=no)
      ;;
    *) echo "memcheck: $b" ;;
  esac
  ZEROSOCK_UNDER_VALGRIND=1 "${VG[@]}" "${extra[@]}" "$b" --test-threads=2 -q "${URING_SKIP[@]}"
done

for b in $(test_bins -p zerosock-wire); do
  echo "memcheck: $b"
  ZEROSOCK_UNDER_VALGRIND=1 "${VG[@]}" "$b" --test-threads=2 -q
done

# The native fuzz targets (own workspace), a fixed number of inputs each.
fuzz_dir="${CARGO_TARGET_DIR:-$PWD/target}/fuzz"
CARGO_TARGET_DIR="$fuzz_dir" cargo build --release --quiet --manifest-path fuzz/Cargo.toml
for spec in byte_ring:20000 record_ring:20000 event_records:20000 submit_records:400; do
  name=${spec%%:*}
  runs=${spec##*:}
  echo "memcheck: fuzz target $name, $runs inputs"
  "${VG[@]}" "$fuzz_dir/release/zerosock-fuzz" "$name" --runs "$runs" --seed 7
done
