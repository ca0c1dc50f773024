#!/usr/bin/env bash
# Leak check of zerosock's native allocations, on every backend the machine has:
#  1. many cycles, natively: .ci/leak-workload.mjs runs every native path (echo, corked and
#     large sends, retain/release, pause/resume, zerocopy, reset, destroy, server close,
#     BufferPool, SpscRing) for ZEROSOCK_LEAK_ROUNDS rounds (default 1500, ~27 000
#     connections); engine sockets and pool buffers must be back to the one-round baseline and
#     RSS (after GC) must stop growing: second half <= ZEROSOCK_LEAK_RSS_MB (default 16 MB).
#  2. under valgrind memcheck, 1 round and 4 rounds: no invalid read/write/free or use of
#     uninitialised memory anywhere (--error-exitcode), no definite leak from a zerosock frame
#     other than the module's one-time napi registration, and no growth of definite leaks
#     with the number of rounds.
# (The whole ava suite under valgrind would take hours; this workload covers the same native
# paths in minutes.)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ZEROSOCK_LEAK_ROUNDS:-1500}
RSS_MB=${ZEROSOCK_LEAK_RSS_MB:-16}
backends=$(node -p "require('zerosock').probe().ioUring.available ? 'io_uring epoll' : 'epoll'")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for b in $backends; do
  base=$(node .ci/leak-workload.mjs "$b" 1)
  many=$(node --expose-gc .ci/leak-workload.mjs "$b" "$ROUNDS")
  BASE="$base" MANY="$many" RSS_MB="$RSS_MB" node -e '
    const base = JSON.parse(process.env.BASE), many = JSON.parse(process.env.MANY);
    const [, half, last] = many.rss;
    const growth = (last.rss - half.rss) / 1048576;
    const line = `${many.backend}: ${many.rounds} rounds, ${many.accepted} connections; ` +
      `RSS ${(half.rss / 1048576).toFixed(0)} MB at round ${half.round}, ${(last.rss / 1048576).toFixed(0)} MB at ${last.round} (+${growth.toFixed(1)} MB); ` +
      `pool in use ${many.poolInUse} (one round: ${base.poolInUse}), open sockets ${many.openSockets}`;
    console.log(`leakcheck: ${line}`);
    const bad = [];
    if (many.openSockets !== 0) bad.push("engine sockets left open");
    if (many.poolInUse !== base.poolInUse) bad.push("pool buffers not back");
    if (growth > Number(process.env.RSS_MB)) bad.push(`RSS still growing (+${growth.toFixed(1)} MB)`);
    if (bad.length) { console.error(`leakcheck: FAILED: ${bad.join(", ")}`); process.exit(1); }
  '
done

if ! command -v valgrind >/dev/null 2>&1; then
  echo "leakcheck: valgrind is not installed; the memcheck half is skipped"
  exit 0
fi
for b in $backends; do
  for r in 1 4; do
    log="$tmp/vg-$b-$r.txt"
    if ! valgrind --error-exitcode=1 --errors-for-leak-kinds=none --leak-check=full \
      --suppressions=.ci/valgrind-v8.supp \
      --show-leak-kinds=definite --num-callers=40 \
      node .ci/leak-workload.mjs "$b" "$r" >"$tmp/out.txt" 2>"$log"; then
      grep -E "^==[0-9]+== (Invalid|Conditional|Use of|Mismatched|Syscall param|Source and)" -A12 "$log" | head -80 >&2
      echo "leakcheck: FAILED: valgrind found memory errors ($b, $r rounds)" >&2
      exit 1
    fi
  done
  LOG1="$tmp/vg-$b-1.txt" LOG4="$tmp/vg-$b-4.txt" B="$b" node -e '
    const fs = require("fs");
    const parse = (f) => {
      const text = fs.readFileSync(f, "utf8");
      const m = /definitely lost: ([\d,]+) bytes in ([\d,]+) blocks/.exec(text);
      const bytes = m ? Number(m[1].replace(/,/g, "")) : 0;
      // Definite-leak records that pass through zerosock (other than module registration).
      const records = text.split(/\n==\d+== \n/).filter((r) => /definitely lost in loss record/.test(r));
      const ours = records.filter((r) => /zerosock/.test(r) && !/napi_register_module_v1/.test(r));
      return { bytes, ours };
    };
    const one = parse(process.env.LOG1), four = parse(process.env.LOG4);
    console.log(`leakcheck: ${process.env.B} under valgrind: definitely lost ${one.bytes} B (1 round), ${four.bytes} B (4 rounds); no memory errors`);
    const ours = [...one.ours, ...four.ours];
    if (ours.length) { console.error(ours.join("\n\n")); console.error("leakcheck: FAILED: definite leaks from zerosock frames"); process.exit(1); }
    if (four.bytes > one.bytes + 512) { console.error("leakcheck: FAILED: definite leaks grow with the rounds"); process.exit(1); }
  '
done
echo "leakcheck: ok"
