// RESP request/response: the JS RESP server of examples/resp.mjs on zerosock and on node:net,
// and redis-server itself, each in its own process, loaded by redis-benchmark (which nobody
// here wrote) in the same run, alternating, median of N. Reports req/s and the server's CPU per
// request from the kernel's accounting of the server process (/proc/<pid>/stat utime+stime).
//
//   node benchmark/resp.mjs [--requests 200000] [--clients 50] [--repeats 3] [--tests ping,set,get]
//
// Needs redis-benchmark and redis-server (Debian: redis-tools, redis-server); .ci/run installs
// them. Writes benchmark/results/resp-<date>.{json,md,svg}.
import { execFileSync, fork, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ratioChart } from './lib/report.mjs';
import { median } from './lib/stats.mjs';
import { cpuSeconds, machine } from './lib/proc.mjs';

const { values: a } = parseArgs({
  options: {
    requests: { type: 'string', default: '200000' },
    clients: { type: 'string', default: '50' },
    repeats: { type: 'string', default: '3' },
    tests: { type: 'string', default: 'ping,set,get' },
    pipeline: { type: 'string', default: '1,16' },
    'no-write': { type: 'boolean', default: false },
  },
});
const requests = Number(a.requests);
const clients = Number(a.clients);
const repeats = Number(a.repeats);
const tests = a.tests.split(',');
const pipelines = a.pipeline.split(',').map(Number);

for (const tool of ['redis-benchmark', 'redis-server']) {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
  } catch {
    console.error(
      `resp bench: ${tool} is not installed (Debian: apt-get install redis-tools redis-server)`,
    );
    process.exit(2);
  }
}

const SERVERS = {
  zerosock: { label: 'JS RESP server on zerosock' },
  'node:net': { label: 'JS RESP server on node:net' },
  'redis-server': { label: 'redis-server' },
};

/** Starts a server in its own process; resolves `{ pid, port, stop() }`. */
async function start(kind) {
  if (kind === 'redis-server') {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    await waitForPort(port);
    return { pid: child.pid, port, stop: () => stop(child) };
  }
  const script = fileURLToPath(new URL('../examples/resp.mjs', import.meta.url));
  const child = fork(script, ['--port', '0', ...(kind === 'node:net' ? ['--net'] : [])], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const port = await new Promise((resolve, reject) => {
    child.once('message', (m) => resolve(m.port));
    child.once('exit', (code) => reject(new Error(`${kind} server exited (${code})`)));
  });
  return { pid: child.pid, port, stop: () => stop(child) };
}

function stop(child) {
  return new Promise((resolve) => {
    child.once('exit', resolve);
    child.kill('SIGTERM');
  });
}

async function waitForPort(port) {
  const net = await import('node:net');
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`nothing listens on ${port}`);
}

/** redis-benchmark's name of a test's row (PING: the array form clients send, not inline). */
const csvName = (test) => (test === 'ping' ? 'PING_MBULK' : test.toUpperCase());

/** One redis-benchmark run of `test` against `server`: req/s and server CPU-µs per request. */
function load(server, test, pipeline) {
  const before = cpuSeconds(server.pid);
  const csv = execFileSync(
    'redis-benchmark',
    [
      '-h',
      '127.0.0.1',
      '-p',
      String(server.port),
      '-c',
      String(clients),
      '-n',
      String(requests),
    ].concat(['-P', String(pipeline), '-t', test, '--csv']),
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const cpu = cpuSeconds(server.pid) - before;
  const line = csv
    .trim()
    .split('\n')
    .find((l) => l.startsWith(`"${csvName(test)}"`));
  if (line === undefined) throw new Error(`no result for ${test}: ${csv}`);
  const rps = Number(JSON.parse(`[${line}]`)[1]);
  return { rps, cpuUsPerReq: (cpu / requests) * 1e6 };
}

const kinds = Object.keys(SERVERS);
const runs = {}; // `${kind}|${test}|${P}` -> [{ rps, cpuUsPerReq }]
const t0 = Date.now();
const loadAvg = os.loadavg();
for (let r = 0; r < repeats; r++) {
  // Alternate the order each round so drift of the machine falls on every server.
  const order = r % 2 === 0 ? kinds : [...kinds].reverse();
  for (const kind of order) {
    const server = await start(kind);
    try {
      for (const P of pipelines) {
        for (const test of tests) {
          const res = load(server, test, P);
          (runs[`${kind}|${test}|${P}`] ??= []).push(res);
          console.log(
            `round ${r + 1} ${kind.padEnd(12)} ${test.padEnd(4)} -P ${P}: ${Math.round(res.rps)} req/s, ${res.cpuUsPerReq.toFixed(2)} µs CPU/req`,
          );
        }
      }
    } finally {
      await server.stop();
    }
  }
}

const rows = [];
for (const P of pipelines) {
  for (const test of tests) {
    const m = (kind, k) => median(runs[`${kind}|${test}|${P}`].map((x) => x[k]));
    const row = { test, pipeline: P, servers: {} };
    for (const kind of kinds)
      row.servers[kind] = { rps: m(kind, 'rps'), cpuUsPerReq: m(kind, 'cpuUsPerReq') };
    const zs = row.servers.zerosock;
    row.vsNet = {
      rps: zs.rps / row.servers['node:net'].rps,
      cpu: zs.cpuUsPerReq / row.servers['node:net'].cpuUsPerReq,
    };
    row.vsRedis = {
      rps: zs.rps / row.servers['redis-server'].rps,
      cpu: zs.cpuUsPerReq / row.servers['redis-server'].cpuUsPerReq,
    };
    rows.push(row);
  }
}

const env = machine({
  redis: execFileSync('redis-server', ['--version'], { encoding: 'utf8' }).trim(),
  loadAvgAtStart: loadAvg,
  seconds: Math.round((Date.now() - t0) / 1000),
  requests,
  clients,
  repeats,
});
const f = (x, d = 2) => x.toFixed(d);
const k = (x) => (x >= 1e6 ? `${f(x / 1e6)} M` : `${f(x / 1e3, 1)} k`);
let md = `# RESP request/response — ${env.date.slice(0, 10)}\n\n`;
md += `\`node benchmark/resp.mjs\`: redis-benchmark -c ${clients} -n ${requests} against three servers, each in its own process, in the same run (order alternating per round), median of ${repeats}. `;
md += `Server CPU per request is the server process's utime+stime (/proc/<pid>/stat) over the load, divided by the requests.\n\n`;
md += `Machine: ${env.cpu}, ${env.cpus} CPUs, Linux ${env.kernel}, node ${env.node}, ${env.redis.split(' ').slice(0, 3).join(' ')}. Load average ${loadAvg.map((x) => f(x)).join(' ')} at start, ${env.loadAvg.map((x) => f(x)).join(' ')} at end; ${env.seconds} s.\n\n`;
md +=
  '| test | pipeline | zerosock req/s | node:net req/s | redis-server req/s | zerosock µs CPU/req | node:net µs CPU/req | redis-server µs CPU/req | req/s × node:net | CPU × node:net | CPU × redis-server |\n';
md += '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n';
for (const r of rows) {
  const s = r.servers;
  md += `| ${r.test.toUpperCase()} | ${r.pipeline} | ${k(s.zerosock.rps)} | ${k(s['node:net'].rps)} | ${k(s['redis-server'].rps)} | ${f(s.zerosock.cpuUsPerReq)} | ${f(s['node:net'].cpuUsPerReq)} | ${f(s['redis-server'].cpuUsPerReq)} | ${f(r.vsNet.rps)}× | ${f(r.vsNet.cpu)}× | ${f(r.vsRedis.cpu)}× |\n`;
}
md +=
  '\n"× node:net" and "× redis-server" are zerosock / that server (req/s: higher is better; CPU: lower is better). The node:net server corks its replies once per tick (what zerosock does by itself), so both JS servers make one write per tick.\n';
console.log(`\n${md}`);

if (!a['no-write']) {
  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const name = `resp-${env.date.slice(0, 10)}`;
  writeFileSync(`${dir}${name}.json`, `${JSON.stringify({ env, rows, runs }, null, 2)}\n`);
  writeFileSync(`${dir}${name}.md`, md);
  const chartRows = rows.flatMap((r) => [
    {
      label: `RESP ${r.test.toUpperCase()} -P ${r.pipeline}: req/s`,
      metric: 'reqPerSec',
      ratio: { 'vs node:net': r.vsNet.rps, 'vs redis-server': r.vsRedis.rps },
    },
    {
      label: `RESP ${r.test.toUpperCase()} -P ${r.pipeline}: server CPU per request`,
      metric: 'cpuUsPerReq',
      ratio: { 'vs node:net': r.vsNet.cpu, 'vs redis-server': r.vsRedis.cpu },
    },
  ]);
  const svg = await ratioChart(
    chartRows,
    ['vs node:net', 'vs redis-server'],
    'RESP server: zerosock vs node:net and redis-server',
    {
      subtitle: '× better than the named peer (same run); 1 = same',
      side: (b) => `zerosock ${b}`,
    },
  );
  writeFileSync(`${dir}${name}.svg`, svg);
  console.log(`wrote benchmark/results/${name}.{json,md,svg}`);
}
