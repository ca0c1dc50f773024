// `npm run bench`: zerosock (io_uring and epoll) vs node:net in the same run, on loopback, with
// the server and the client of every measurement in two separate processes (lib/worker.mjs).
// Every row reports the ratio zerosock / baseline and whether the receiving side counted the
// bytes and checksums the sending side claims. Writes benchmark/results/<date>-<kernel>.json,
// .md and .svg.
//
//   node benchmark/run.mjs [--full | --smoke] [--only msgs,stream,...] [--repeat N]
//                          [--backends io_uring,epoll] [--json FILE] [--no-write]
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import cliProgress from 'cli-progress';
import { probe } from 'zerosock';
import { MODES, WORKLOAD_NAMES } from './lib/config.mjs';
import { keyOf, METRICS, WORKLOADS } from './lib/workloads.mjs';
import { runPair } from './lib/runner.mjs';
import { poolLoop, ringTransfer } from './lib/micro.mjs';
import { summarize } from './lib/stats.mjs';
import { consoleTable, markdownTable, ratioChart } from './lib/report.mjs';

const HELP = `usage: node benchmark/run.mjs [options]
  --full             longer runs, repeated (median of N, spread); default is a ~1.5 min run
  --smoke            tiny sizes (for the test suite)
  --only NAMES       comma-separated workloads: ${WORKLOAD_NAMES.join(', ')} (repeatable)
  --repeat N         repetitions of every measurement (default 1, --full 5)
  --backends LIST    zerosock backends to run, e.g. epoll (default: all this machine has)
  --json FILE        also write the JSON result to FILE
  --no-write         don't write benchmark/results/
  --out DIR          write the results to DIR instead of benchmark/results/
  -h, --help`;

const { values: args } = parseArgs({
  options: {
    full: { type: 'boolean', default: false },
    smoke: { type: 'boolean', default: false },
    only: { type: 'string', multiple: true },
    repeat: { type: 'string' },
    backends: { type: 'string' },
    json: { type: 'string' },
    'no-write': { type: 'boolean', default: false },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (args.help) {
  console.log(HELP);
  process.exit(0);
}
if (args.full && args.smoke) fail('--full and --smoke exclude each other');

const mode = args.smoke ? 'smoke' : args.full ? 'full' : 'short';
const cfg = MODES[mode];
const repeats = args.repeat === undefined ? cfg.repeats : Number(args.repeat);
if (!Number.isInteger(repeats) || repeats < 1 || repeats > 50) fail('--repeat must be 1..50');
const selected = args.only
  ? args.only.flatMap((s) => s.split(',')).filter(Boolean)
  : WORKLOAD_NAMES;
for (const name of selected) {
  if (!WORKLOAD_NAMES.includes(name))
    fail(`unknown workload "${name}" (${WORKLOAD_NAMES.join(', ')})`);
}

const report = probe();
const available = report.ioUring.available ? ['io_uring', 'epoll'] : ['epoll'];
const backends = args.backends ? args.backends.split(',').filter(Boolean) : available;
for (const b of backends) {
  if (!available.includes(b))
    fail(`backend "${b}" is not available here (${available.join(', ')})`);
}
const zsImpls = backends.map((b) => `zerosock-${b}`);

function fail(msg) {
  console.error(`bench: ${msg}\n\n${HELP}`);
  process.exit(2);
}

const machine = {
  cpu: os.cpus()[0]?.model ?? 'unknown',
  cores: os.cpus().length,
  memoryGiB: Number((os.totalmem() / 2 ** 30).toFixed(1)),
  kernel: os.release(),
  os: `${os.type()} ${os.release()}`,
  node: process.version,
  loadavgStart: os.loadavg().map((x) => Number(x.toFixed(2))),
};
// The machine counts as shared when other work kept a core busy before we started.
machine.noisy = Math.max(machine.loadavgStart[0], machine.loadavgStart[1]) > 0.25 * machine.cores;

const started = Date.now();
console.log(
  `zerosock bench (${mode}) — ${machine.cpu}, ${machine.cores} cores, Linux ${machine.kernel}, ` +
    `node ${machine.node}, backends ${backends.join(' + ')}, load ${machine.loadavgStart.join(' ')}` +
    (machine.noisy ? ' (machine busy: numbers are noisy)' : ''),
);

// ------------------------------------------------------------------ plan

const socketNames = selected.filter((n) => WORKLOADS[n]);
const plan = [];
for (let rep = 0; rep < repeats; rep++) {
  for (const name of socketNames) {
    const ms = WORKLOADS[name].measurements(cfg, zsImpls).map((m) => ({ ...m, workload: name }));
    // Rotate the order each repetition so no implementation always runs first.
    const k = rep % ms.length;
    plan.push(...ms.slice(k), ...ms.slice(0, k));
  }
}
const microSteps =
  (selected.includes('ring') ? repeats * 2 : 0) + (selected.includes('pool') ? repeats : 0);

const bar = new cliProgress.SingleBar(
  {
    format: 'bench [{bar}] {value}/{total} {task}',
    hideCursor: true,
    clearOnComplete: true,
    stream: process.stderr,
  },
  cliProgress.Presets.shades_classic,
);
bar.start(plan.length + microSteps, 0, { task: '' });

// ------------------------------------------------------------------ socket workloads

const measurements = new Map(); // key -> { spec, runs: [] }
for (const m of plan) {
  const key = keyOf(m);
  bar.update({ task: `${m.workload} ${m.tag ?? ''} ${m.impl} ${m.variant}` });
  const w = WORKLOADS[m.workload];
  const entry = measurements.get(key) ?? { spec: m, runs: [] };
  measurements.set(key, entry);
  const spec = { workload: m.workload, impl: m.impl, variant: m.variant, params: m.params };
  const limit =
    (m.params.timeoutMs ?? 60_000) + (m.params.durationMs ?? m.params.maxMs ?? 0) + 10_000;
  try {
    const r = await runPair(spec, limit);
    entry.runs.push({
      metrics: w.metrics(m, r),
      problems: w.verify(m, r),
      wallMs: r.wallMs,
      raw: r,
    });
  } catch (err) {
    entry.runs.push({ metrics: null, problems: [`failed: ${String(err.message ?? err)}`] });
  }
  bar.increment();
}

// ------------------------------------------------------------------ micro-benchmarks

const micro = {};
if (selected.includes('ring')) {
  micro.ring = {};
  for (const size of [64, 1024]) {
    const count = cfg.ring.counts[size];
    const runs = { zerosock: [], ringbuf: [], problems: [] };
    for (let rep = 0; rep < repeats; rep++) {
      bar.update({ task: `ring ${size} B` });
      for (const impl of rep % 2 === 0 ? ['zerosock', 'ringbuf'] : ['ringbuf', 'zerosock']) {
        try {
          const r = await ringTransfer(impl, size, count);
          runs[impl].push(r.msgsPerSec);
          if (r.bad !== 0 || r.sum !== r.expectedSum) {
            runs.problems.push(
              `${impl}: ${r.bad} bad messages, checksum ${r.sum} != ${r.expectedSum}`,
            );
          }
        } catch (err) {
          runs.problems.push(`${impl} failed: ${err.message}`);
        }
      }
      bar.increment();
    }
    micro.ring[size] = { count, ...runs };
  }
}
if (selected.includes('pool')) {
  const runs = { zerosock: [], baseline: [], problems: [] };
  for (let rep = 0; rep < repeats; rep++) {
    bar.update({ task: 'pool' });
    for (const side of ['zerosock', 'baseline']) {
      try {
        const r = await poolLoop(side, cfg.pool.loop);
        runs[side].push(r);
        if (!(r.ns > 0) || r.sink !== true) runs.problems.push(`${side}: bad result`);
      } catch (err) {
        runs.problems.push(`${side} failed: ${err.message}`);
      }
    }
    bar.increment();
  }
  micro.pool = { loop: cfg.pool.loop, ...runs };
}
bar.stop();
machine.loadavgEnd = os.loadavg().map((x) => Number(x.toFixed(2)));

// ------------------------------------------------------------------ rows

const rows = [];
const conns = { echo: cfg.echo.conns, paced: cfg.paced.conns, idle: cfg.idle.conns };
const fmtInt = (n) => n.toLocaleString('en-US');
for (const name of socketNames) {
  const w = WORKLOADS[name];
  for (const def of w.rows) {
    const find = (impl, variant) => {
      const tag = def.tag ?? conns[name];
      return measurements.get(keyOf({ workload: name, tag, impl, variant }));
    };
    const values = (entry) =>
      entry.runs.filter((r) => r.metrics !== null).map((r) => r.metrics[def.metric]);
    const problems = [];
    const collect = (label, entry) => {
      for (const r of entry.runs) for (const p of r.problems) problems.push(`${label}: ${p}`);
    };
    const base = find('net', def.net);
    collect(`node:net ${def.net}`, base);
    const row = {
      workload: name,
      label: def.label.replace('{conns}', fmtInt(conns[name] ?? 0)),
      metric: def.metric,
      unit: METRICS[def.metric].unit,
      better: METRICS[def.metric].better,
      baselineName: w.transport
        ? `node:net over ${w.transport} (${def.net === 'cork' ? 'cork()/uncork() per tick' : 'write() per message'})`
        : `node:net (${def.net === 'cork' ? 'cork()/uncork() per tick' : 'write() per message'}, noDelay)`,
      ...(w.transport ? { transport: w.transport } : {}),
      baseline: summarize(values(base)),
      zerosockVariant: def.zs === 'nocork' ? 'cork: false' : 'auto-cork (default)',
      zerosock: {},
      ratio: {},
    };
    const notes = [];
    for (const impl of zsImpls) {
      const b = impl.slice('zerosock-'.length);
      const entry = find(impl, def.zs);
      collect(`${impl} ${def.zs}`, entry);
      row.zerosock[b] = summarize(values(entry));
      row.ratio[b] = row.zerosock[b].value / row.baseline.value;
      if (def.metric === 'msgsPerSec') {
        const bpf = entry.runs.filter((r) => r.metrics).map((r) => r.metrics.bytesPerFlush);
        if (bpf.length) notes.push(`${b} ${summarize(bpf).value.toFixed(0)} B/flush`);
      }
    }
    row.verified = problems.length === 0;
    row.problems = problems;
    row.note = notes.join(', ');
    rows.push(row);
  }
}

const microRow = (workload, label, metric, baselineName, zs, base, problems, note) => {
  const z = summarize(zs);
  const row = {
    workload,
    label,
    metric,
    unit: METRICS[metric].unit,
    better: METRICS[metric].better,
    baselineName,
    baseline: summarize(base),
    zerosock: {},
    ratio: {},
    backendIndependent: true,
    verified: problems.length === 0 && zs.length > 0 && base.length > 0,
    problems,
    note,
  };
  for (const b of backends) {
    row.zerosock[b] = z;
    row.ratio[b] = z.value / row.baseline.value;
  }
  rows.push(row);
};
if (micro.ring) {
  for (const size of [64, 1024]) {
    const r = micro.ring[size];
    microRow(
      'ring',
      `SpscRing ${size === 64 ? '64 B' : '1 KB'}, 2 worker threads`,
      'ringMsgsPerSec',
      'ringbuf.js push/pop',
      r.zerosock,
      r.ringbuf,
      r.problems,
      'no socket; vs ringbuf.js',
    );
  }
}
if (micro.pool) {
  const p = micro.pool;
  const problems = p.problems;
  microRow(
    'pool',
    'BufferPool 64 KiB acquire+release',
    'poolOpsPerSec',
    'Buffer.allocUnsafe(64 KiB)',
    p.zerosock.map((r) => 1e9 / r.ns),
    p.baseline.map((r) => 1e9 / r.ns),
    problems,
    'no socket; vs Buffer.allocUnsafe',
  );
  microRow(
    'pool',
    `BufferPool GC cycles in ${fmtInt(p.loop)} ops`,
    'gcCycles',
    'Buffer.allocUnsafe(64 KiB)',
    p.zerosock.map((r) => r.cycles),
    p.baseline.map((r) => r.cycles),
    problems,
    'no socket; vs Buffer.allocUnsafe',
  );
}

// ------------------------------------------------------------------ output

const table = consoleTable(rows, backends);
console.log(`\n${table}`);
const failed = rows.filter((r) => !r.verified);
for (const r of failed) console.log(`FAILED ${r.label}:\n  ${r.problems.join('\n  ')}`);
const seconds = (Date.now() - started) / 1000;
console.log(
  `${rows.length} rows, ${failed.length} failed checks, ${seconds.toFixed(0)} s; load ` +
    `${machine.loadavgStart.join(' ')} at start, ${machine.loadavgEnd.join(' ')} at end`,
);

const date = new Date().toISOString().slice(0, 10);
const result = {
  schema: 'zerosock-bench/1',
  date: new Date().toISOString(),
  mode,
  repeats,
  workloads: selected,
  durationSeconds: seconds,
  machine,
  zerosock: {
    version: readPackageVersion(),
    commit: gitCommit(),
    backends,
    probe: {
      backend: report.backend,
      kernel: report.kernel,
      ioUring: { available: report.ioUring.available, error: report.ioUring.error },
      features: report.features,
    },
  },
  config: Object.fromEntries(selected.map((n) => [n, cfg[n]])),
  verified: failed.length === 0,
  rows,
  measurements: [...measurements.entries()].map(([key, e]) => ({
    key,
    workload: e.spec.workload,
    tag: e.spec.tag,
    impl: e.spec.impl,
    variant: e.spec.variant,
    params: e.spec.params,
    runs: e.runs,
  })),
  micro,
};
const json = `${JSON.stringify(result, null, 2)}\n`;
if (args.json) writeFileSync(args.json, json);
if (!args['no-write']) {
  const dir = args.out
    ? pathToFileURL(`${resolve(args.out)}/`)
    : new URL('./results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  // A run of some workloads only (--only) is named after them, and a --smoke run says so, so
  // neither overwrites the files of a real run of all of them.
  const partial = WORKLOAD_NAMES.some((n) => !selected.includes(n));
  const base =
    `${date}-${machine.kernel}${partial ? `-${selected.join('+')}` : ''}` +
    (mode === 'smoke' ? '-smoke' : '');
  writeFileSync(new URL(`${base}.json`, dir), json);
  writeFileSync(new URL(`${base}.md`, dir), markdown(result, markdownTable(rows, backends)));
  const title = `zerosock vs node:net — ${date}, Linux ${machine.kernel}${machine.noisy ? ' (noisy machine)' : ''}`;
  writeFileSync(new URL(`${base}.svg`, dir), await ratioChart(rows, backends, title));
  console.log(`wrote ${fileURLToPath(new URL(`${base}.json`, dir))}, .md and .svg`);
}
process.exit(failed.length === 0 ? 0 : 1);

// ------------------------------------------------------------------ helpers

function readPackageVersion() {
  const pkg = fileURLToPath(new URL('../package.json', import.meta.url));
  return JSON.parse(readFileSync(pkg, 'utf8')).version;
}

function gitCommit() {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return null;
  }
}

function markdown(res, tableMd) {
  const m = res.machine;
  const c = MODES[res.mode];
  const lines = [
    `# zerosock vs node:net — ${res.date.slice(0, 10)}`,
    '',
    `\`npm run bench${res.mode === 'full' ? ' -- --full' : res.mode === 'smoke' ? ' -- --smoke' : ''}\` ` +
      `(${res.mode} run, ${res.repeats} repetition${res.repeats > 1 ? 's' : ''}, ${res.durationSeconds.toFixed(0)} s), ` +
      `zerosock ${res.zerosock.version}${res.zerosock.commit ? ` @ ${res.zerosock.commit}` : ''}.`,
    '',
    `Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Linux ${m.kernel}, node ${m.node}; ` +
      `backends: ${res.zerosock.backends.join(', ')}; io_uring features: ` +
      `${
        Object.entries(res.zerosock.probe.features)
          .filter(([, v]) => v)
          .map(([k]) => k)
          .join(', ') || 'none'
      }.`,
    '',
    `Load average ${m.loadavgStart.join(' ')} at start, ${m.loadavgEnd.join(' ')} at end.` +
      (m.noisy
        ? ' **Machine shared with builds (noisy)**: other processes were using the CPUs, so absolute ' +
          'numbers and ratios are only indicative; redo on a quiet machine before quoting them.'
        : ''),
    '',
    tableMd,
    '',
    `Checks: ${res.verified ? 'every row passed' : '**some rows FAILED** (see the JSON `problems`)'} — the ` +
      'receiving process counted the messages/bytes the sender claims, with equal CRC-32 and in-order ' +
      'sequence numbers (messages, CRC-32 streams) or every sampled byte in place (streams), every echo/ping-pong reply equal to its request, every ' +
      'connection held (idle), every ring message checked.',
    '',
    '## How',
    '',
    '- Server and client of every measurement run in two separate forked processes on 127.0.0.1; ' +
      'both sides use the same implementation (zerosock↔zerosock, node:net↔node:net). node:net ' +
      'sockets have noDelay set; zerosock sets TCP_NODELAY itself.',
    '- "×" is zerosock / baseline for the metric as shown (↑ higher is better, ↓ lower is better). ' +
      `"±" is half the range over repetitions relative to the median. The SVG chart plots ` +
      '"× better" (the ratio, or its inverse for ↓ metrics).',
    `- Messages (${c.msgs.durationMs} ms or ${fmtInt(c.msgs.maxMessages)} messages): the sender builds a ` +
      `fresh Buffer per message (sequence number + pattern), ${c.msgs.batch} messages per event-loop ` +
      'turn, waiting for drain when send()/write() returns false. "corked" node:net calls cork() ' +
      'before and uncork() in process.nextTick after each turn. Rate = messages the receiver counted ' +
      `after a ${c.msgs.warmupMs} ms warm-up / time. B/flush = zerosock's sock.stats().bytesPerFlush ` +
      'on the sender.',
    `- Streams (${c.stream.durationMs} ms): the same 64 KB / 1 MB Buffer written repeatedly (default ` +
      'high-water marks: 16 KB node:net, 1 MiB zerosock). CPU = process.cpuUsage() of both processes ' +
      'over the transfer, per GB received. The receiver counts the bytes and checks one byte in ' +
      'every 4 099 against the chunk at that stream offset (a shifted, lost or repeated range fails); ' +
      'the "CRC-32 receiver" rows compute a CRC-32 (zlib.crc32) of every byte instead, which makes ' +
      'the receiver the bottleneck and is part of the CPU measured.',
    `- Ping-pong: ${fmtInt(c.latency.rounds)} round trips of 64 B after ${fmtInt(c.latency.warmupRounds)} ` +
      'warm-up rounds, hrtime per round on the client; the server echoes.',
    `- Echo: ${fmtInt(c.echo.conns)} connections from one client process, each with one 64 B request ` +
      `outstanding, replies counted over ${c.echo.durationMs} ms after a ${c.echo.warmupMs} ms warm-up.`,
    `- Idle: ${fmtInt(c.idle.conns)} connections held open; RSS growth (after GC) / connections, ` +
      'in the server process and in the client process.',
    '- Over UDS: the 64 B messages and the 64 B ping-pong above (same sizes and time bounds) over ' +
      'a Unix domain socket instead of 127.0.0.1: a fresh path in a new directory under ' +
      'os.tmpdir() per measurement (checked to be a socket file while listening, removed after), ' +
      'zerosock `listen({ path })`/`connect({ path })` against node:net listening on and ' +
      'connecting to the same kind of path (noDelay does not apply).',
    `- Ring: two worker threads move ${fmtInt(c.ring.counts[64])} × 64 B / ${fmtInt(c.ring.counts[1024])} × ` +
      '1 KB messages, SpscRing push/popInto vs ringbuf.js push/pop (the method of benchmark/ring.mjs). ' +
      `Pool: benchmark/pool.mjs --gc-child, ${fmtInt(c.pool.loop)} acquire+release (or allocations) of ` +
      '64 KiB in a fresh process per side.',
    '',
  ];
  return lines.join('\n');
}
