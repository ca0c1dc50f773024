// One measurement of the main benchmark, before/after: runs it alternately (A B B A …) from two
// checkouts and prints min / median / max of throughput and CPU per message (both processes).
// compare.mjs runs the whole bench; this one isolates a single row when compare.mjs is noisy.
//
//   node benchmark/ab-one.mjs --baseline DIR [--workload msgs] [--impl zerosock-epoll]
//                              [--variant cork] [--size 64] [--rounds 6]
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values: a } = parseArgs({
  options: {
    baseline: { type: 'string' },
    workload: { type: 'string', default: 'msgs' },
    impl: { type: 'string', default: 'zerosock-epoll' },
    variant: { type: 'string', default: 'cork' },
    size: { type: 'string', default: '64' },
    rounds: { type: 'string', default: '6' },
  },
});
if (!a.baseline) {
  console.log(
    'usage: node benchmark/ab-one.mjs --baseline DIR [--impl I] [--variant V] [--rounds N]',
  );
  process.exit(2);
}
const trees = { before: resolve(a.baseline), after: fileURLToPath(new URL('..', import.meta.url)) };
const size = Number(a.size);
const params = {
  durationMs: 1500,
  warmupMs: 300,
  maxMessages: 50e6,
  batch: 64,
  timeoutMs: 60_000,
  size,
};
const runners = {};
for (const [k, dir] of Object.entries(trees)) {
  runners[k] = (await import(`${dir}/benchmark/lib/runner.mjs`)).runPair;
}
const out = { before: [], after: [] };
const order = ['before', 'after', 'after', 'before'];
for (let i = 0; i < Number(a.rounds); i++) {
  for (const k of order) {
    const spec = { workload: a.workload, impl: a.impl, variant: a.variant, tag: size, params };
    const r = await runners[k](spec, 60_000);
    const n = r.server.messages;
    out[k].push({
      perSec: r.server.window.count / (r.server.window.ms / 1000),
      cpuNs: ((r.client.cpuSeconds + r.server.cpuSeconds) / n) * 1e9,
    });
  }
}
const q = (xs) => {
  const s = [...xs].sort((x, y) => x - y);
  return { min: s[0], median: s[s.length >> 1], max: s.at(-1) };
};
const summary = {};
for (const k of Object.keys(out)) {
  summary[k] = {
    runs: out[k].length,
    perSec: q(out[k].map((x) => x.perSec)),
    cpuNsPerMsg: q(out[k].map((x) => x.cpuNs)),
  };
}
summary.ratio = {
  perSec: summary.after.perSec.median / summary.before.perSec.median,
  cpuNsPerMsg: summary.after.cpuNsPerMsg.median / summary.before.cpuNsPerMsg.median,
};
console.log(
  JSON.stringify(
    { trees, workload: a.workload, impl: a.impl, variant: a.variant, size, summary },
    null,
    2,
  ),
);
