// The wake-up path of a 64 B ping-pong, counted: system calls (strace -f -c) and context
// switches (perf stat -e context-switches) per round trip, both processes together, for
// node:net and each zerosock backend with and without busy polling. Counts, not times: they
// hold on a loaded machine too (strace slows the run, so its batching is not the real one;
// the context switches come from a separate run without strace).
//
//   node benchmark/wakeups.mjs [--rounds 10000]
//
// Needs strace and perf. Writes benchmark/results/wakeups-<date>.{json,md}.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { machine } from './lib/proc.mjs';

const { values: a } = parseArgs({
  options: {
    rounds: { type: 'string', default: '10000' },
    'one-run': { type: 'string' }, // internal: `impl,variant` of the measured child
  },
});
const rounds = Number(a.rounds);

if (a['one-run'] !== undefined) {
  const [impl, variant] = a['one-run'].split(',');
  const { runPair } = await import('./lib/runner.mjs');
  const params = { conns: 1, rounds, warmupRounds: 0, maxMs: 60_000, timeoutMs: 120_000 };
  const r = await runPair({ workload: 'latency', impl, variant, tag: 64, params }, 180_000);
  console.log(JSON.stringify({ rounds: r.client.rounds }));
  process.exit(0);
}

const CASES = [
  ['net', 'write', 'node:net (write() per message)'],
  ['zerosock-io_uring', 'nobusy', 'zerosock io_uring, busyPollUs: 0'],
  ['zerosock-epoll', 'nobusy', 'zerosock epoll, busyPollUs: 0'],
  ['zerosock-io_uring', 'cork', 'zerosock io_uring, defaults (busy polling)'],
  ['zerosock-epoll', 'cork', 'zerosock epoll, defaults (busy polling)'],
];
const self = fileURLToPath(import.meta.url);
/** The calls a wake-up, a read or a write is made of (the rest is start-up). */
const IO_SYSCALLS = [
  'epoll_pwait',
  'epoll_wait',
  'io_uring_enter',
  'read',
  'write',
  'writev',
  'sendmsg',
  'recvfrom',
  'recvmsg',
  'poll',
];
const tmp = join(os.tmpdir(), `zs-wakeups-${process.pid}`);
mkdirSync(tmp, { recursive: true });
const run = (cmd, args) =>
  execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const child = (impl, variant) => [
  process.execPath,
  self,
  '--rounds',
  String(rounds),
  '--one-run',
  `${impl},${variant}`,
];

/** `strace -c` table → { syscall: calls } */
function syscalls(file) {
  const out = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 5 && /^\d/.test(f[0]) && f.at(-1) !== 'total') out[f.at(-1)] = Number(f[3]);
  }
  return out;
}

const results = [];
for (const [impl, variant, label] of CASES) {
  const straceFile = join(tmp, `${impl}-${variant}.strace`);
  const n1 = JSON.parse(
    run('strace', ['-f', '-c', '-o', straceFile, ...child(impl, variant)]).trim(),
  ).rounds;
  const calls = syscalls(straceFile);
  const perfFile = join(tmp, `${impl}-${variant}.perf`);
  const n2 = JSON.parse(
    run('perf', [
      'stat',
      '-x,',
      '-e',
      'context-switches',
      '-o',
      perfFile,
      ...child(impl, variant),
    ]).trim(),
  ).rounds;
  const cs = Number(
    readFileSync(perfFile, 'utf8')
      .split('\n')
      .find((l) => l.includes('context-switches'))
      .split(',')[0],
  );
  const per = (n, rt) => n / rt;
  const row = {
    label,
    impl,
    variant,
    rounds: n1,
    perRound: {},
    contextSwitchesPerRound: per(cs, n2),
  };
  let total = 0;
  for (const s of IO_SYSCALLS) {
    if (calls[s] === undefined) continue;
    row.perRound[s] = per(calls[s], n1);
    total += calls[s];
  }
  row.ioSyscallsPerRound = per(total, n1);
  results.push(row);
  console.log(
    `${label}: ${row.ioSyscallsPerRound.toFixed(2)} I/O syscalls, ${row.contextSwitchesPerRound.toFixed(2)} context switches per round trip`,
  );
}
rmSync(tmp, { recursive: true, force: true });

const env = machine({ rounds });
const date = env.date;
const cols = IO_SYSCALLS.filter((c) => results.some((r) => r.perRound[c] !== undefined));
let md = `# Wake-ups of a 64 B ping-pong — ${date}\n\n`;
md += `\`node benchmark/wakeups.mjs --rounds ${rounds}\`: one connection, client and server in two processes, counted over both (process start-up included, so the small counts carry a few hundred calls of noise). System calls from \`strace -f -c\`, context switches from \`perf stat\` in a separate run. Per round trip; node:net is the peer.\n\n`;
md += `Machine: ${env.cpu}, ${env.cpus} CPUs, Linux ${env.kernel}, node ${env.node}; load average ${env.loadAvg.map((x) => x.toFixed(2)).join(' ')}.\n\n`;
md += `| case | I/O syscalls | × node:net | context switches | ${cols.join(' | ')} |\n|---|---:|---:|---:|${cols.map(() => '---:').join('|')}|\n`;
const net = results[0];
for (const r of results) {
  md += `| ${r.label} | ${r.ioSyscallsPerRound.toFixed(2)} | ${(r.ioSyscallsPerRound / net.ioSyscallsPerRound).toFixed(2)}× | ${r.contextSwitchesPerRound.toFixed(2)} | ${cols.map((c) => (r.perRound[c] === undefined ? '' : r.perRound[c].toFixed(2))).join(' | ')} |\n`;
}
const dir = fileURLToPath(new URL('./results/', import.meta.url));
writeFileSync(`${dir}wakeups-${date}.json`, `${JSON.stringify({ env, results }, null, 2)}\n`);
writeFileSync(`${dir}wakeups-${date}.md`, md);
console.log(`\n${md}`);
