// `node benchmark/pool.mjs`: zerosock's BufferPool vs Buffer.allocUnsafe / allocUnsafeSlow for
// 64 KiB buffers, in the same run.
//
// 1. Throughput (benchmark.js): one acquire + release (or one allocation) per operation; every
//    side writes one byte and reads another, so each buffer is really used.
// 2. GC in a long loop: each side runs LOOP operations in its own `node --expose-gc` process
//    (so no side pays for another's garbage) and counts GC cycles with a PerformanceObserver
//    ('gc' entries), after a warm-up and a full collection. The "view only" row makes the one
//    `Uint8Array` per acquire alone, so (pool − view only) is what the pool itself adds.
//
// Options: --quick (shorter), --no-write (don't write benchmark/results/).
import Benchmark from 'benchmark';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { BufferPool } from 'zerosock';

const SIZE = 64 * 1024;
const quick = process.argv.includes('--quick');
const LOOP = quick ? 200_000 : 2_000_000;
const REPEATS = quick ? 1 : 3;

/** The sides, each a function doing one operation; `sink` keeps the work observable. */
function makeSides() {
  let sink = 0;
  const pool = new BufferPool({ size: SIZE, count: 64 });
  const reusing = new BufferPool({ size: SIZE, count: 64, reuseViews: true });
  const memory = new ArrayBuffer(SIZE * 64);
  let k = 0;
  return {
    sides: {
      'pool.acquire()+release()': () => {
        const v = pool.acquire();
        v[0] = 1;
        sink += v[100];
        pool.release(v);
      },
      'pool.acquire()+release(), reuseViews': () => {
        const v = reusing.acquire();
        v[0] = 1;
        sink += v[100];
        reusing.release(v);
      },
      'Buffer.allocUnsafe(64 KiB)': () => {
        const b = Buffer.allocUnsafe(SIZE);
        b[0] = 1;
        sink += b[100];
      },
      'Buffer.allocUnsafeSlow(64 KiB)': () => {
        const b = Buffer.allocUnsafeSlow(SIZE);
        b[0] = 1;
        sink += b[100];
      },
      'view only: new Uint8Array(memory, offset, 64 KiB)': () => {
        const v = new Uint8Array(memory, (k++ & 63) * SIZE, SIZE);
        v[0] = 1;
        sink += v[100];
      },
    },
    sink: () => sink,
  };
}

// ------------------------------------------------------------------ child: one GC loop

if (process.argv[2] === '--gc-child') {
  const name = process.argv[3];
  const loop = Number(process.argv[4]);
  const { sides, sink } = makeSides();
  const op = sides[name];
  for (let i = 0; i < 50_000; i++) op();
  globalThis.gc();
  let cycles = 0;
  let minor = 0;
  let gcMs = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      cycles++;
      gcMs += e.duration;
      if (e.detail?.kind === 1) minor++; // NODE_PERFORMANCE_GC_MINOR (scavenge)
    }
  });
  obs.observe({ entryTypes: ['gc'] });
  const rss0 = process.memoryUsage().rss;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < loop; i++) op();
  const ns = Number(process.hrtime.bigint() - t0) / loop;
  const rss1 = process.memoryUsage().rss;
  // GC entries are delivered asynchronously: let them arrive before reporting.
  setTimeout(() => {
    obs.disconnect();
    console.log(
      JSON.stringify({
        name,
        loop,
        ns,
        cycles,
        minor,
        major: cycles - minor,
        gcMs,
        rssGrowth: rss1 - rss0,
        sink: sink() > -1,
      }),
    );
  }, 200);
} else {
  await main();
}

// ------------------------------------------------------------------ parent

async function main() {
  const machine = {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    loadavgAtStart: os.loadavg().map((x) => Number(x.toFixed(2))),
  };
  console.log(
    `pool bench — ${machine.cpu}, ${machine.cores} cores, ${machine.kernel}, node ${machine.node}, ` +
      `load ${machine.loadavgAtStart.join(' ')}`,
  );

  // 1. Throughput.
  const { sides, sink } = makeSides();
  const throughput = {};
  const suite = new Benchmark.Suite();
  for (const [name, fn] of Object.entries(sides)) suite.add(name, fn);
  suite
    .on('cycle', (e) => {
      const b = e.target;
      throughput[b.name] = {
        opsPerSec: b.hz,
        nsPerOp: 1e9 / b.hz,
        rme: b.stats.rme,
        samples: b.stats.sample.length,
      };
      console.log(`  ${String(b)}`);
    })
    .run({ async: false });
  if (sink() === -1) console.log('unreachable');

  // 2. GC cycles over a long loop, one process per side and run; the median run by time.
  const self = fileURLToPath(import.meta.url);
  const gc = {};
  for (const name of Object.keys(sides)) {
    const runs = [];
    for (let r = 0; r < REPEATS; r++) {
      const out = execFileSync(
        process.execPath,
        ['--expose-gc', self, '--gc-child', name, String(LOOP)],
        {
          encoding: 'utf8',
        },
      );
      runs.push(JSON.parse(out));
    }
    runs.sort((a, b) => a.ns - b.ns);
    gc[name] = {
      ...runs[Math.floor(runs.length / 2)],
      runs: runs.map((x) => ({ ns: x.ns, cycles: x.cycles })),
    };
  }

  const poolName = 'pool.acquire()+release()';
  const reuseName = 'pool.acquire()+release(), reuseViews';
  const viewName = 'view only: new Uint8Array(memory, offset, 64 KiB)';
  const rows = Object.keys(sides).map((name) => ({
    name,
    opsPerSec: throughput[name].opsPerSec,
    nsPerOp: throughput[name].nsPerOp,
    rme: throughput[name].rme,
    poolSpeedup: throughput[poolName].opsPerSec / throughput[name].opsPerSec,
    reuseSpeedup: throughput[reuseName].opsPerSec / throughput[name].opsPerSec,
    loopNsPerOp: gc[name].ns,
    gcCycles: gc[name].cycles,
    gcMinor: gc[name].minor,
    gcMajor: gc[name].major,
    gcMs: gc[name].gcMs,
  }));
  const attributable = gc[poolName].cycles - gc[viewName].cycles;

  const fmt = (x, d = 1) =>
    x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
  const header =
    '| side | ops/s | ns/op | ± | pool × | reuseViews × | loop ns/op | GC cycles (minor/major) | GC ms |';
  const lines = [
    header,
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.name} | ${fmt(r.opsPerSec, 0)} | ${fmt(r.nsPerOp)} | ${fmt(r.rme)}% | ${fmt(r.poolSpeedup, 2)} | ` +
        `${fmt(r.reuseSpeedup, 2)} | ${fmt(r.loopNsPerOp)} | ${r.gcCycles} (${r.gcMinor}/${r.gcMajor}) | ${fmt(r.gcMs)} |`,
    ),
  ];
  const summary = [
    `pool vs Buffer.allocUnsafe: ${fmt(rows[2].poolSpeedup, 1)}× (reuseViews ${fmt(rows[2].reuseSpeedup, 1)}×); ` +
      `vs allocUnsafeSlow: ${fmt(rows[3].poolSpeedup, 1)}× (reuseViews ${fmt(rows[3].reuseSpeedup, 1)}×).`,
    `GC cycles in ${LOOP.toLocaleString('en-US')} operations: pool ${gc[poolName].cycles}, of which ` +
      `${attributable} beyond the one Uint8Array per acquire (view only: ${gc[viewName].cycles}); ` +
      `reuseViews ${gc[reuseName].cycles}; allocUnsafe ${gc['Buffer.allocUnsafe(64 KiB)'].cycles}; ` +
      `allocUnsafeSlow ${gc['Buffer.allocUnsafeSlow(64 KiB)'].cycles}.`,
  ];
  console.log(`\n${lines.join('\n')}\n\n${summary.join('\n')}`);

  if (!process.argv.includes('--no-write')) {
    const dir = new URL('./results/', import.meta.url);
    mkdirSync(dir, { recursive: true });
    const date = new Date().toISOString().slice(0, 10);
    const result = {
      benchmark: 'pool',
      date: new Date().toISOString(),
      machine,
      size: SIZE,
      loop: LOOP,
      repeats: REPEATS,
      rows,
      gc,
      attributableGcCycles: attributable,
      summary,
    };
    writeFileSync(new URL(`pool-${date}.json`, dir), `${JSON.stringify(result, null, 2)}\n`);
    const md = [
      `# BufferPool vs Buffer.allocUnsafe — ${date}`,
      '',
      `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.kernel}, node ${machine.node}, ` +
        `load at start ${machine.loadavgAtStart.join(' ')}.`,
      '',
      `64 KiB buffers. ops/s from benchmark.js (one acquire + release or one allocation per op, ` +
        `each writing and reading a byte); "× " columns are how many times faster the pool (or the ` +
        `pool with reuseViews) is than that row. Loop ns/op and GC cycles: ${LOOP.toLocaleString('en-US')} ` +
        `ops in a fresh process per side (median of ${REPEATS} by time), GC cycles counted with ` +
        `PerformanceObserver 'gc' entries after a warm-up and a full GC.`,
      '',
      ...lines,
      '',
      ...summary,
      '',
    ].join('\n');
    writeFileSync(new URL(`pool-${date}.md`, dir), md);
    console.log(`\nwrote benchmark/results/pool-${date}.json and .md`);
  }
}
