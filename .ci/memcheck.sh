#!/usr/bin/env bash
# miri needs a nightly toolchain, which this CI cannot install (registries only), so the crates'
# unit and integration tests of the lock-free/unsafe code run under valgrind memcheck instead.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v valgrind >/dev/null 2>&1; then
  echo "memcheck: valgrind is not installed and could not be installed; skipped"
  exit 0
fi
bins=$(cargo test -p zerosock-ring -p zerosock-pool --no-run --message-format=json 2>/dev/null |
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{for(const l of s.split("\n")){if(!l)continue;const m=JSON.parse(l);if(m.reason==="compiler-artifact"&&m.executable&&m.profile.test)console.log(m.executable)}})')
for b in $bins; do
  echo "memcheck: $b"
  ZEROSOCK_RING_STRESS=50000 ZEROSOCK_UNDER_VALGRIND=1 valgrind -q --error-exitcode=1 --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite "$b" --test-threads=2 -q
done
