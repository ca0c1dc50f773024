// `node benchmark/http.mjs`: zerosock in real Node servers, side by side in one run.
//
// 1. HTTP/1.1 keep-alive requests/s: the same handler on zerosock + node:http
//    (createHttpServer) and on plain node:http. Server and load (autocannon) each run in their
//    own process; the sides alternate, best of REPEATS runs each. Server CPU time per request
//    is reported too (it is the server's cost, independent of the load generator).
// 2. Echo requests/s (64-byte ping-pong on 100 connections, load from a node:net client
//    process): zerosock with 1 and 2 worker_threads (SO_REUSEPORT), node:net for reference.
// 3. The Duplex receive path: copying each borrowed view into a Buffer (what toDuplex() does)
//    vs borrowing it (only safe for a consumer that never keeps a chunk) vs raw 'data'.
//
// Ratios are printed and written to benchmark/results/http-<date>.json and .md.
// Options: --quick (short runs), --no-write, --seconds N, --connections N.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

const self = fileURLToPath(import.meta.url);
const argv = process.argv.slice(2);
const flag = (name) => argv.includes(`--${name}`);
const opt = (name, def) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : def;
};

// ------------------------------------------------------------------ child: servers

const HELLO = Buffer.from('hello world\n');
const handler = (req, res) => {
  res.setHeader('content-type', 'text/plain');
  res.setHeader('content-length', HELLO.length);
  res.end(HELLO);
};

async function serve(kind, workers) {
  const host = '127.0.0.1';
  let port;
  let stop;
  if (kind === 'zerosock-http') {
    const { createHttpServer } = await import('zerosock');
    const server = createHttpServer(handler);
    await server.listen({ port: 0, host });
    port = server.address().port;
    stop = () => server.close({ timeoutMs: 500 });
  } else if (kind === 'node-http') {
    const http = await import('node:http');
    const server = http.createServer(handler);
    await new Promise((r) => server.listen(0, host, r));
    port = server.address().port;
    stop = () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(r);
      });
  } else if (kind === 'zerosock-echo') {
    const { createServer, startWorkers } = await import('zerosock');
    // Reserve a port for the workers: a reusePort listener here holds it until they bound it.
    const hold = createServer();
    await hold.listen({ port: 0, host, reusePort: true });
    port = hold.address().port;
    const group = await startWorkers(self, {
      workers,
      workerData: { port },
      execArgv: [],
    });
    await hold.close();
    stop = () => group.close({ timeoutMs: 500 });
  } else if (kind === 'node-echo') {
    const net = await import('node:net');
    const sockets = new Set();
    const server = net.createServer((s) => {
      sockets.add(s);
      s.on('data', (d) => s.write(d));
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    });
    await new Promise((r) => server.listen(0, host, r));
    port = server.address().port;
    stop = () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(r);
      });
  }
  const cpu0 = process.cpuUsage();
  process.stdout.write(`${JSON.stringify({ port })}\n`);
  process.stdin.resume();
  process.stdin.once('data', async () => {
    const cpu = process.cpuUsage(cpu0);
    await stop();
    process.stdout.write(`${JSON.stringify({ cpuMs: (cpu.user + cpu.system) / 1000 })}\n`);
    process.exit(0);
  });
}

/** Worker body of the echo server (started by startWorkers above). */
async function echoWorker() {
  const { workerData } = await import('node:worker_threads');
  const { createServer, serveInWorker } = await import('zerosock');
  const server = createServer((sock) => {
    sock.on('data', (v) => sock.send(v));
    sock.on('end', () => sock.end());
    sock.on('error', () => {});
  });
  await server.listen({ port: workerData.port, host: '127.0.0.1', reusePort: true });
  serveInWorker(server);
}

// ------------------------------------------------------------------ child: load generators

async function loadHttp(port, seconds, connections) {
  const { default: autocannon } = await import('autocannon');
  const r = await autocannon({
    url: `http://127.0.0.1:${port}/`,
    connections,
    duration: seconds,
    pipelining: 1,
  });
  process.stdout.write(
    `${JSON.stringify({
      rps: r.requests.average,
      total: r.requests.total,
      p50: r.latency.p50,
      p99: r.latency.p99,
      errors: r.errors + r.non2xx + r.timeouts,
    })}\n`,
  );
}

async function loadEcho(port, seconds, connections) {
  const net = await import('node:net');
  const msg = Buffer.alloc(64, 7);
  let total = 0;
  const conns = await Promise.all(
    Array.from(
      { length: connections },
      () =>
        new Promise((resolve, reject) => {
          const c = net.connect(port, '127.0.0.1', () => resolve(c));
          c.setNoDelay(true);
          c.on('error', reject);
        }),
    ),
  );
  let running = true;
  const start = process.hrtime.bigint();
  for (const c of conns) {
    let got = 0;
    c.on('data', (d) => {
      got += d.length;
      while (got >= 64) {
        got -= 64;
        total++;
        if (running) c.write(msg);
      }
    });
    c.write(msg);
  }
  await new Promise((r) => setTimeout(r, seconds * 1000));
  running = false;
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  for (const c of conns) c.destroy();
  process.stdout.write(`${JSON.stringify({ rps: total / secs, total })}\n`);
}

// ------------------------------------------------------------------ in-process: duplex copy

async function duplexCopy(totalBytes) {
  const { Readable } = await import('node:stream');
  const { createServer, connect } = await import('zerosock');
  const out = {};
  for (const mode of ['raw', 'copy (toDuplex)', 'borrow (unsafe)']) {
    const server = createServer((sock) => {
      const buf = Buffer.alloc(1 << 20, 7);
      let sent = 0;
      const pump = () => {
        while (sent < totalBytes) {
          sent += buf.length;
          if (!sock.send(buf)) return void sock.once('drain', pump);
        }
        sock.end();
      };
      sock.resume();
      pump();
    });
    await server.listen({ port: 0, host: '127.0.0.1' });
    const c = await connect({ port: server.address().port, host: '127.0.0.1' });
    let n = 0;
    const t0 = process.hrtime.bigint();
    const cpu0 = process.cpuUsage();
    await new Promise((resolve) => {
      if (mode === 'raw') {
        c.on('data', (v) => (n += v.byteLength));
        c.on('end', resolve);
      } else if (mode.startsWith('copy')) {
        const d = c.toDuplex();
        d.on('data', (b) => (n += b.length));
        d.on('end', resolve);
      } else {
        // Pushes pool memory itself: valid only because this consumer reads synchronously.
        const r = new Readable({ read() {}, highWaterMark: 64 * 1024 });
        c.on('data', (v) => r.push(Buffer.from(v.buffer, v.byteOffset, v.byteLength)));
        c.on('end', () => r.push(null));
        r.on('data', (b) => (n += b.length));
        r.on('end', resolve);
      }
    });
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    out[mode] = {
      MBps: Math.round(n / secs / 1e6),
      cpuSecPerGB: +((cpu.user + cpu.system) / 1e6 / (n / 1e9)).toFixed(3),
    };
    c.destroy();
    await server.close();
  }
  return out;
}

// ------------------------------------------------------------------ orchestration

function child(args, { input = false } = {}) {
  const p = spawn(process.execPath, [self, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = [];
  let buf = '';
  const waiters = [];
  p.stdout.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      lines.push(JSON.parse(buf.slice(0, i)));
      buf = buf.slice(i + 1);
      waiters.shift()?.();
    }
  });
  const next = () =>
    new Promise((resolve, reject) => {
      const take = () => resolve(lines.shift());
      if (lines.length > 0) take();
      else {
        waiters.push(take);
        p.once('exit', (code) => reject(new Error(`child ${args.join(' ')} exited ${code}`)));
      }
    });
  if (!input) p.stdin.end();
  return { next, stop: () => p.stdin.write('stop\n'), proc: p };
}

async function measure(kind, loadKind, seconds, connections, workers = 1) {
  const server = child(['--serve', kind, '--workers', String(workers)], { input: true });
  const { port } = await server.next();
  const load = child([loadKind, String(port), String(seconds), String(connections)]);
  const result = await load.next();
  server.stop();
  const { cpuMs } = await server.next();
  return { ...result, serverCpuMs: cpuMs };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const quick = flag('quick');
  const seconds = Number(opt('seconds', quick ? 2 : 5));
  const connections = Number(opt('connections', 50));
  const repeats = quick ? 1 : 3;
  const { probe } = await import('zerosock');
  const p = probe();
  const env = {
    date: new Date().toISOString(),
    node: process.version,
    kernel: p.kernel,
    backend: p.backend,
    cpus: os.cpus().length,
    cpu: os.cpus()[0]?.model,
    seconds,
    connections,
    repeats,
  };
  console.log(
    `zerosock http bench — node ${env.node}, kernel ${env.kernel}, backend ${env.backend}, ${env.cpus} CPUs`,
  );

  const sides = { 'zerosock+node:http': 'zerosock-http', 'node:http': 'node-http' };
  const httpRuns = { 'zerosock+node:http': [], 'node:http': [] };
  for (let r = 0; r < repeats; r++) {
    for (const [name, kind] of Object.entries(sides)) {
      const res = await measure(kind, '--load-http', seconds, connections);
      res.cpuUsPerReq = (res.serverCpuMs * 1000) / res.total;
      httpRuns[name].push(res);
      console.log(
        `  http  ${name.padEnd(20)} ${Math.round(res.rps).toString().padStart(8)} req/s  p50 ${res.p50} ms  p99 ${res.p99} ms  server ${res.cpuUsPerReq.toFixed(1)} µs CPU/req  errors ${res.errors}`,
      );
    }
  }
  const httpSummary = {};
  for (const [name, runs] of Object.entries(httpRuns)) {
    httpSummary[name] = {
      rps: Math.round(median(runs.map((x) => x.rps))),
      cpuUsPerReq: +median(runs.map((x) => x.cpuUsPerReq)).toFixed(2),
      p99: median(runs.map((x) => x.p99)),
      errors: runs.reduce((n, x) => n + x.errors, 0),
    };
  }
  const z = httpSummary['zerosock+node:http'];
  const n = httpSummary['node:http'];
  const httpRatio = +(z.rps / n.rps).toFixed(3);
  const cpuRatio = +(n.cpuUsPerReq / z.cpuUsPerReq).toFixed(3);

  const echoSides = [
    ['zerosock, 1 worker', 'zerosock-echo', 1],
    ['zerosock, 2 workers', 'zerosock-echo', 2],
    ['node:net, main thread', 'node-echo', 1],
  ];
  const echoRuns = {};
  for (let r = 0; r < repeats; r++) {
    for (const [name, kind, workers] of echoSides) {
      const res = await measure(kind, '--load-echo', seconds, 100, workers);
      res.cpuUsPerReq = (res.serverCpuMs * 1000) / res.total;
      (echoRuns[name] ??= []).push(res);
      console.log(
        `  echo  ${name.padEnd(22)} ${Math.round(res.rps).toString().padStart(8)} req/s  server ${res.cpuUsPerReq.toFixed(2)} µs CPU/req`,
      );
    }
  }
  const echoSummary = {};
  for (const [name, runs] of Object.entries(echoRuns)) {
    echoSummary[name] = {
      rps: Math.round(median(runs.map((x) => x.rps))),
      cpuUsPerReq: +median(runs.map((x) => x.cpuUsPerReq)).toFixed(2),
    };
  }
  const e1 = echoSummary['zerosock, 1 worker'].rps;
  const e2 = echoSummary['zerosock, 2 workers'].rps;
  const en = echoSummary['node:net, main thread'].rps;

  const copy = await duplexCopy(quick ? 256 << 20 : 1 << 30);
  for (const [mode, r] of Object.entries(copy)) {
    console.log(`  duplex receive ${mode.padEnd(16)} ${r.MBps} MB/s, ${r.cpuSecPerGB} CPU-s/GB`);
  }

  const ratios = {
    'http req/s zerosock+node:http / node:http': httpRatio,
    'http server CPU per request node:http / zerosock+node:http': cpuRatio,
    'echo req/s 2 workers / 1 worker': +(e2 / e1).toFixed(3),
    'echo req/s zerosock 1 worker / node:net': +(e1 / en).toFixed(3),
    'echo req/s zerosock 2 workers / node:net': +(e2 / en).toFixed(3),
    'echo server CPU per request node:net / zerosock 1 worker': +(
      echoSummary['node:net, main thread'].cpuUsPerReq /
      echoSummary['zerosock, 1 worker'].cpuUsPerReq
    ).toFixed(3),
    'duplex receive copy / borrow (MB/s)': +(
      copy['copy (toDuplex)'].MBps / copy['borrow (unsafe)'].MBps
    ).toFixed(3),
  };
  console.log('\nratios (> 1: zerosock / the first side is better)');
  for (const [k, v] of Object.entries(ratios)) console.log(`  ${k.padEnd(62)} ${v}`);
  console.log(
    `  (load and servers share ${env.cpus} CPUs: with 2 CPUs, 2 workers compete with the load generator,` +
      ' and one node:net load process caps echo req/s — compare server CPU per request)',
  );

  if (flag('no-write')) return;
  const result = {
    env,
    http: { summary: httpSummary, runs: httpRuns },
    echo: { summary: echoSummary, runs: echoRuns },
    duplexReceive: copy,
    ratios,
  };
  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const day = env.date.slice(0, 10);
  writeFileSync(`${dir}http-${day}.json`, `${JSON.stringify(result, null, 2)}\n`);
  const md = [
    `# zerosock HTTP / multi-core benchmark (${day})`,
    '',
    `node ${env.node}, kernel ${env.kernel}, backend ${env.backend}, ${env.cpus} CPUs (${env.cpu}); ${seconds} s per run, median of ${repeats}; server and load in separate processes on the same machine.`,
    '',
    '| HTTP keep-alive (autocannon, ' +
      connections +
      ' connections) | req/s | server µs CPU/req | p99 ms | errors |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...Object.entries(httpSummary).map(
      ([k, v]) => `| ${k} | ${v.rps} | ${v.cpuUsPerReq} | ${v.p99} | ${v.errors} |`,
    ),
    '',
    '| Echo, 64 B ping-pong, 100 connections (node:net client) | req/s | server µs CPU/req |',
    '| --- | ---: | ---: |',
    ...Object.entries(echoSummary).map(([k, v]) => `| ${k} | ${v.rps} | ${v.cpuUsPerReq} |`),
    '',
    `Echo req/s is capped by the one node:net load process sharing the ${env.cpus} CPUs with the servers; the server CPU per request is the server's own cost. More workers than free cores cannot raise req/s.`,
    '',
    '| Duplex receive (1 MiB sends, in-process) | MB/s | CPU-s/GB |',
    '| --- | ---: | ---: |',
    ...Object.entries(copy).map(([k, v]) => `| ${k} | ${v.MBps} | ${v.cpuSecPerGB} |`),
    '',
    '| Ratio | value |',
    '| --- | ---: |',
    ...Object.entries(ratios).map(([k, v]) => `| ${k} | ${v} |`),
    '',
  ].join('\n');
  writeFileSync(`${dir}http-${day}.md`, md);
  console.log(`\nwrote benchmark/results/http-${day}.json and .md`);
}

// ------------------------------------------------------------------ entry

const { isMainThread } = await import('node:worker_threads');
if (!isMainThread) {
  await echoWorker();
} else if (flag('serve')) {
  await serve(opt('serve'), Number(opt('workers', 1)));
} else if (flag('load-http')) {
  await loadHttp(Number(argv[1]), Number(argv[2]), Number(argv[3]));
} else if (flag('load-echo')) {
  await loadEcho(Number(argv[1]), Number(argv[2]), Number(argv[3]));
} else {
  await main();
}
