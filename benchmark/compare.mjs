// Before/after of a change, in the same run: the main benchmark (run.mjs) of a baseline checkout
// (a worktree of the commit before the change, with its addon and dist/ built) and of this tree,
// alternated A B B A … so drift of the machine falls on both. Every row reports after / before
// per zerosock backend, and node:net after / before as the noise control: node:net did not
// change, so how far its ratio strays from 1 is what the machine's noise alone does to a row.
//
//   node benchmark/compare.mjs --baseline DIR [--rounds N] [--out DIR] [-- run.mjs options]
//
// Writes <out>/compare-<date>.json, .md and .svg (default benchmark/results/).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { formatValue, ratioChart } from './lib/report.mjs';
import { summarize } from './lib/stats.mjs';
import { METRICS } from './lib/workloads.mjs';

const HELP = `usage: node benchmark/compare.mjs --baseline DIR [--rounds N] [--out DIR] [-- run.mjs options]
  --baseline DIR   a checkout of the commit before the change, built (npm run build)
  --rounds N       runs of each tree, alternated A B B A ... (default 2)
  --noise X        a row is "worse" when after/before is worse by more than X (default 0.10)
                   and by more than node:net's own drift in that row
  --out DIR        where to write compare-<date>.{json,md,svg} (default benchmark/results/)`;

const split = process.argv.indexOf('--');
const own = split < 0 ? process.argv.slice(2) : process.argv.slice(2, split);
const passThrough = split < 0 ? [] : process.argv.slice(split + 1);
const { values: args } = parseArgs({
  args: own,
  options: {
    baseline: { type: 'string' },
    rounds: { type: 'string', default: '2' },
    noise: { type: 'string', default: '0.10' },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (args.help || !args.baseline) {
  console.log(HELP);
  process.exit(args.help ? 0 : 2);
}
const rounds = Number(args.rounds);
const noise = Number(args.noise);
if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20) throw new Error('--rounds: 1..20');
if (!(noise >= 0 && noise < 1)) throw new Error('--noise: 0..1');

const here = fileURLToPath(new URL('..', import.meta.url));
const trees = { before: resolve(args.baseline), after: resolve(here) };
const commit = (dir) =>
  execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: dir, encoding: 'utf8' }).trim();
const dirty = (dir) =>
  execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
    cwd: dir,
    encoding: 'utf8',
  }).trim() !== '';
const commits = Object.fromEntries(
  Object.entries(trees).map(([k, d]) => [k, commit(d) + (dirty(d) ? '+changes' : '')]),
);

const tmp = mkdtempSync(join(os.tmpdir(), 'zerosock-compare-'));
const results = { before: [], after: [] };
const started = Date.now();
const loadStart = os.loadavg();
for (let round = 0; round < rounds; round++) {
  const order = round % 2 === 0 ? ['before', 'after'] : ['after', 'before'];
  for (const side of order) {
    const json = join(tmp, `${side}-${round}.json`);
    console.error(`compare: round ${round + 1}/${rounds}, ${side} (${commits[side]})`);
    execFileSync(
      process.execPath,
      [join(trees[side], 'benchmark/run.mjs'), '--no-write', '--json', json, ...passThrough],
      { cwd: trees[side], stdio: ['ignore', 'ignore', 'inherit'] },
    );
    results[side].push(JSON.parse(readFileSync(json, 'utf8')));
  }
}
rmSync(tmp, { recursive: true, force: true });

// ------------------------------------------------------------------ rows

const backends = results.after[0].zerosock.backends;
const keyOf = (r) => `${r.label} [${r.metric}]`;
const rowsOf = (side) => results[side].map((res) => new Map(res.rows.map((r) => [keyOf(r), r])));
const byRun = { before: rowsOf('before'), after: rowsOf('after') };
const worse = (metric, ratio) => (METRICS[metric].better === 'higher' ? 1 / ratio : ratio);

const rows = [];
for (const [key, first] of byRun.after[0]) {
  if (!byRun.before.every((m) => m.has(key))) continue;
  const pick = (side, f) =>
    summarize(byRun[side].map((m) => f(m.get(key))).filter(Number.isFinite));
  const row = {
    label: first.label,
    metric: first.metric,
    backendIndependent: first.backendIndependent ?? false,
    peer: first.baselineName,
    net: {
      before: pick('before', (r) => r.baseline.value),
      after: pick('after', (r) => r.baseline.value),
    },
    before: {},
    after: {},
    ratio: {},
    verified: [...byRun.before, ...byRun.after].every((m) => m.get(key).verified),
  };
  row.net.ratio = row.net.after.value / row.net.before.value;
  row.ratio['node:net'] = row.net.ratio;
  const drift = Math.abs(worse(row.metric, row.net.ratio) - 1);
  row.worse = [];
  for (const b of backends) {
    row.before[b] = pick('before', (r) => r.zerosock[b]?.value);
    row.after[b] = pick('after', (r) => r.zerosock[b]?.value);
    row.ratio[b] = row.after[b].value / row.before[b].value;
    const w = worse(row.metric, row.ratio[b]) - 1;
    if (w > noise && w > drift) row.worse.push(b);
  }
  rows.push(row);
}

// ------------------------------------------------------------------ output

const fmt = (x) => (Number.isFinite(x) ? `${x.toFixed(2)}×` : '–');
const val = (metric, s) => formatValue(metric, s?.value);
const head = ['workload', 'metric'];
for (const b of backends) head.push(`${b} before`, `${b} after`, `× ${b}`);
head.push('peer (control)', '× peer', 'checked', 'worse beyond noise');
const body = rows.map((r) => {
  const m = METRICS[r.metric];
  const cells = [r.label, `${m.unit} ${m.better === 'higher' ? '↑' : '↓'}`];
  for (const b of backends)
    cells.push(val(r.metric, r.before[b]), val(r.metric, r.after[b]), fmt(r.ratio[b]));
  cells.push(r.peer, fmt(r.net.ratio), r.verified ? 'ok' : 'FAILED', r.worse.join(', ') || 'no');
  return cells;
});
const esc = (s) => String(s).replaceAll('|', '\\|');
const table = [
  `| ${head.map(esc).join(' | ')} |`,
  `| ${head.map((h, i) => (i < 2 || !/^(×|io_uring|epoll)/.test(h) ? '---' : '---:')).join(' | ')} |`,
  ...body.map((c) => `| ${c.map(esc).join(' | ')} |`),
].join('\n');

const m0 = results.after[0].machine;
const date = new Date().toISOString().slice(0, 10);
const seconds = (Date.now() - started) / 1000;
const worseRows = rows.filter((r) => r.worse.length > 0);
const md = [
  `# zerosock before/after — ${date}`,
  '',
  `\`node benchmark/compare.mjs --baseline <checkout of ${commits.before}> --rounds ${rounds}` +
    `${passThrough.length ? ` -- ${passThrough.join(' ')}` : ''}\`: the main benchmark of the ` +
    `baseline (${commits.before}) and of this tree (${commits.after}) in one run, alternated ` +
    `(A B B A …), ${rounds} run${rounds > 1 ? 's' : ''} of each, ${seconds.toFixed(0)} s. ` +
    'Values are medians over the runs.',
  '',
  `Machine: ${m0.cpu}, ${m0.cores} cores, ${m0.memoryGiB} GiB, Linux ${m0.kernel}, node ${m0.node}. ` +
    `Load ${loadStart.map((x) => x.toFixed(2)).join(' ')} at start, ` +
    `${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')} at end.`,
  '',
  '"×" is after / before (↑: higher is better, ↓: lower is better). The peer column is the ' +
    'unchanged peer of the row (node:net, or the library named) measured in the same runs: its ' +
    '× is the drift the machine alone causes. A row is worse beyond noise when after is worse ' +
    `than before by more than ${(noise * 100).toFixed(0)}% and by more than the peer's drift.`,
  '',
  table,
  '',
  worseRows.length === 0
    ? 'No row is worse beyond noise.'
    : `Worse beyond noise: ${worseRows.map((r) => `${r.label} (${r.worse.join(', ')})`).join('; ')}.`,
  '',
].join('\n');
console.log(md);

const outDir = args.out ? resolve(args.out) : join(here, 'benchmark/results');
mkdirSync(outDir, { recursive: true });
const base = join(outDir, `compare-${date}`);
const result = {
  schema: 'zerosock-compare/1',
  date: new Date().toISOString(),
  commits,
  rounds,
  noise,
  args: passThrough,
  machine: { ...m0, loadavgStart: loadStart, loadavgEnd: os.loadavg() },
  rows,
  runs: results,
};
writeFileSync(`${base}.json`, `${JSON.stringify(result, null, 2)}\n`);
writeFileSync(`${base}.md`, md);
writeFileSync(
  `${base}.svg`,
  await ratioChart(
    rows,
    [...backends, 'node:net'],
    `zerosock ${commits.after} vs ${commits.before}`,
    {
      subtitle: '× better after the change than before; node:net = the noise control; 1 = same',
      side: (b) => (b === 'node:net' ? 'node:net (control)' : `zerosock ${b}`),
      axis: 'after vs before (×, log scale)',
    },
  ),
);
console.error(`compare: wrote ${base}.json, .md and .svg`);
process.exit(worseRows.length === 0 && rows.every((r) => r.verified) ? 0 : 1);
