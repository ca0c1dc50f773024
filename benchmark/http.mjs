// `node benchmark/http.mjs`: zerosock in real Node servers, side by side in one run.
//
// 1. HTTP/1.1 keep-alive requests/s: the same app on zerosock and on node:http (node:net), for
//    a bare node:http handler (createHttpServer), fastify "hello" (fastifyServerFactory vs
//    fastify's own server) and express "hello" (createHttpServer(app) vs app.listen). Server
//    and load (autocannon) each run in their own process; the sides alternate, median of
//    REPEATS runs each. Server CPU time per request is reported too, from the server process's
//    own process.cpuUsage() (its cost, independent of the load generator).
// 2. Echo requests/s (64-byte ping-pong on 100 connections, load from a node:net client
//    process): zerosock with 1 and 2 worker_threads (SO_REUSEPORT), node:net for reference.
// 3. The Duplex receive path: copying each borrowed view into a Buffer (what toDuplex() does)
//    vs borrowing it (only safe for a consumer that never keeps a chunk) vs raw 'data'.
//
// Ratios are printed and written to benchmark/results/http-<date>.json and .md.
// Options: --quick (short runs), --no-write, --seconds N, --connections N, --repeats N,
// --only http,fastify,express,echo,duplex (default: all), --profile KIND (one run of a server
// kind, e.g. zerosock-fastify, under --cpu-prof: prints and writes its top self-time shares).
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { summarizeProfile } from './lib/cpuprofile.mjs';

const self = fileURLToPath(import.meta.url);
const argv = process.argv.slice(2);
const flag = (name) => argv.includes(`--${name}`);
const opt = (name, def) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : def;
};

// ------------------------------------------------------------------ child: servers

const HELLO_TEXT = 'hello world\n';
const HELLO = Buffer.from(HELLO_TEXT);
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
  } else if (kind === 'zerosock-fastify' || kind === 'node-fastify') {
    const { default: Fastify } = await import('fastify');
    const { fastifyServerFactory } = await import('zerosock');
    const app = Fastify(
      kind === 'zerosock-fastify' ? { serverFactory: fastifyServerFactory() } : {},
    );
    app.get('/', (req, reply) => {
      reply.header('content-type', 'text/plain').send(HELLO_TEXT);
    });
    await app.listen({ port: 0, host });
    port = app.server.address().port;
    stop = () => {
      app.server.closeAllConnections();
      return app.close();
    };
  } else if (kind === 'zerosock-express' || kind === 'node-express') {
    const { default: express } = await import('express');
    const app = express();
    app.get('/', (req, res) => res.type('text/plain').send(HELLO_TEXT));
    let server;
    if (kind === 'zerosock-express') {
      const { createHttpServer } = await import('zerosock');
      server = createHttpServer(app).httpServer;
    } else {
      server = (await import('node:http')).createServer(app);
    }
    await new Promise((r) => server.listen(0, host, r));
    port = server.address().port;
    stop = () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
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

function child(args, { input = false, execArgv = [] } = {}) {
  const p = spawn(process.execPath, [...execArgv, self, ...args], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
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

async function measure(kind, loadKind, seconds, connections, workers = 1, execArgv = []) {
  const server = child(['--serve', kind, '--workers', String(workers)], {
    input: true,
    execArgv,
  });
  const { port } = await server.next();
  const load = child([loadKind, String(port), String(seconds), String(connections)]);
  const result = await load.next();
  server.stop();
  const { cpuMs } = await server.next();
  // The next run starts on an idle machine (and a --cpu-prof profile is written at exit).
  if (server.proc.exitCode === null) await new Promise((r) => server.proc.once('exit', r));
  return { ...result, serverCpuMs: cpuMs };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const quick = flag('quick');
  const seconds = Number(opt('seconds', quick ? 2 : 5));
  const connections = Number(opt('connections', 50));
  const repeats = Number(opt('repeats', quick ? 1 : 3));
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

  const only = new Set(opt('only', 'http,fastify,express,echo,duplex').split(','));
  const httpGroups = {};
  for (const [group, sides] of Object.entries(HTTP_GROUPS)) {
    if (!only.has(group)) continue;
    httpGroups[group] = await runHttpGroup(group, sides, seconds, connections, repeats);
  }
  const ratios = {};
  for (const [group, g] of Object.entries(httpGroups)) {
    const [zName, nName] = Object.keys(g.summary);
    const z = g.summary[zName];
    const n = g.summary[nName];
    ratios[`${group}: req/s ${zName} / ${nName}`] = +(z.rps / n.rps).toFixed(3);
    ratios[`${group}: server CPU per request ${zName} / ${nName}`] = +(
      z.cpuUsPerReq / n.cpuUsPerReq
    ).toFixed(3);
  }

  let echo = null;
  if (only.has('echo')) {
    echo = await runEcho(seconds, repeats);
    const e1 = echo.summary['zerosock, 1 worker'];
    const e2 = echo.summary['zerosock, 2 workers'];
    const en = echo.summary['node:net, main thread'];
    ratios['echo req/s 2 workers / 1 worker'] = +(e2.rps / e1.rps).toFixed(3);
    ratios['echo req/s zerosock 1 worker / node:net'] = +(e1.rps / en.rps).toFixed(3);
    ratios['echo req/s zerosock 2 workers / node:net'] = +(e2.rps / en.rps).toFixed(3);
    ratios['echo server CPU per request zerosock 1 worker / node:net'] = +(
      e1.cpuUsPerReq / en.cpuUsPerReq
    ).toFixed(3);
  }
  let copy = null;
  if (only.has('duplex')) {
    copy = await duplexCopy(quick ? 256 << 20 : 1 << 30);
    for (const [mode, r] of Object.entries(copy)) {
      console.log(`  duplex receive ${mode.padEnd(16)} ${r.MBps} MB/s, ${r.cpuSecPerGB} CPU-s/GB`);
    }
    ratios['duplex receive copy / borrow (MB/s)'] = +(
      copy['copy (toDuplex)'].MBps / copy['borrow (unsafe)'].MBps
    ).toFixed(3);
  }

  console.log('\nratios (req/s: > 1 zerosock is faster; CPU per request: < 1 zerosock costs less)');
  for (const [k, v] of Object.entries(ratios)) console.log(`  ${k.padEnd(78)} ${v}`);
  console.log(
    `  (load and servers share ${env.cpus} CPUs: with 2 CPUs, 2 workers compete with the load generator,` +
      ' and one node:net load process caps echo req/s — compare server CPU per request)',
  );

  if (flag('no-write')) return;
  const result = { env, http: httpGroups, echo, duplexReceive: copy, ratios };
  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const day = env.date.slice(0, 10);
  const name = only.size === 5 ? `http-${day}` : `http-${day}-${[...only].join('-')}`;
  writeFileSync(`${dir}${name}.json`, `${JSON.stringify(result, null, 2)}\n`);
  const md = [
    `# zerosock HTTP / multi-core benchmark (${day})`,
    '',
    `node ${env.node}, kernel ${env.kernel}, backend ${env.backend}, ${env.cpus} CPUs (${env.cpu}); ${seconds} s per run, median of ${repeats}, the sides alternating in the same run; server and load (autocannon, ${connections} keep-alive connections, no pipelining) in separate processes on the same machine. Server CPU is the server process's own process.cpuUsage() over the run.`,
    '',
    ...Object.entries(httpGroups).flatMap(([group, g]) => [
      `| ${group}: ${HTTP_TITLES[group]} | req/s | server µs CPU/req | p99 ms | errors |`,
      '| --- | ---: | ---: | ---: | ---: |',
      ...Object.entries(g.summary).map(
        ([k, v]) => `| ${k} | ${v.rps} | ${v.cpuUsPerReq} | ${v.p99} | ${v.errors} |`,
      ),
      '',
    ]),
    ...(echo === null
      ? []
      : [
          '| Echo, 64 B ping-pong, 100 connections (node:net client) | req/s | server µs CPU/req |',
          '| --- | ---: | ---: |',
          ...Object.entries(echo.summary).map(([k, v]) => `| ${k} | ${v.rps} | ${v.cpuUsPerReq} |`),
          '',
          `Echo req/s is capped by the one node:net load process sharing the ${env.cpus} CPUs with the servers; the server CPU per request is the server's own cost. More workers than free cores cannot raise req/s.`,
          '',
        ]),
    ...(copy === null
      ? []
      : [
          '| Duplex receive (1 MiB sends, in-process) | MB/s | CPU-s/GB |',
          '| --- | ---: | ---: |',
          ...Object.entries(copy).map(([k, v]) => `| ${k} | ${v.MBps} | ${v.cpuSecPerGB} |`),
          '',
        ]),
    '| Ratio (req/s: > 1 zerosock is faster; CPU per request: < 1 zerosock costs less) | value |',
    '| --- | ---: |',
    ...Object.entries(ratios).map(([k, v]) => `| ${k} | ${v} |`),
    '',
  ].join('\n');
  writeFileSync(`${dir}${name}.md`, md);
  console.log(`\nwrote benchmark/results/${name}.json and .md`);
}

/** One run of server `kind` under `--cpu-prof`: its self-time shares, printed and written. */
async function profile(kind, seconds, connections) {
  const tmp = mkdtempSync(join(os.tmpdir(), 'zerosock-prof-'));
  const res = await measure(kind, '--load-http', seconds, connections, 1, [
    '--cpu-prof',
    `--cpu-prof-dir=${tmp}`,
  ]);
  const file = readdirSync(tmp).find((f) => f.endsWith('.cpuprofile'));
  const summary = summarizeProfile(join(tmp, file));
  rmSync(tmp, { recursive: true, force: true });
  const day = new Date().toISOString().slice(0, 10);
  const md = [
    `# CPU profile: ${kind} (${day})`,
    '',
    `node ${process.version}, --cpu-prof on the server process, ${seconds} s of autocannon (${connections} keep-alive connections) at ${Math.round(res.rps)} req/s (slowed by the profiler); ${summary.totalMs} ms of CPU sampled (idle excluded). Self time: the function running when sampled, not its callees.`,
    '',
    '| area | self time % |',
    '| --- | ---: |',
    ...summary.areas.map(([k, v]) => `| ${k} | ${v} |`),
    '',
    '| function (file:line) | self time % |',
    '| --- | ---: |',
    ...summary.top.map(([k, v]) => `| \`${k}\` | ${v} |`),
    '',
  ].join('\n');
  console.log(md);
  if (flag('no-write')) return;
  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}http-profile-${kind}-${day}.md`, md);
  writeFileSync(
    `${dir}http-profile-${kind}-${day}.json`,
    `${JSON.stringify({ kind, rps: res.rps, ...summary }, null, 2)}\n`,
  );
}

/** The HTTP rows: per group, the zerosock side first, then its node:http peer. */
const HTTP_GROUPS = {
  http: { 'zerosock+node:http': 'zerosock-http', 'node:http': 'node-http' },
  fastify: { 'fastify on zerosock': 'zerosock-fastify', 'fastify on node:http': 'node-fastify' },
  express: { 'express on zerosock': 'zerosock-express', 'express on node:http': 'node-express' },
};
const HTTP_TITLES = {
  http: 'node:http handler "hello"',
  fastify: 'fastify "hello" (fastifyServerFactory vs fastify\'s node:http server)',
  express: 'express "hello" (createHttpServer(app) vs http.createServer(app))',
};

/** Per side: the median req/s and server CPU per request of its runs. */
const summarize = (rs) => ({
  rps: Math.round(median(rs.map((x) => x.rps))),
  cpuUsPerReq: +median(rs.map((x) => x.cpuUsPerReq)).toFixed(2),
});

/** Runs every side `repeats` times, alternating: `sides` is `[name, server kind, workers]`. */
async function runSides(label, sides, loadKind, seconds, connections, repeats) {
  const runs = Object.fromEntries(sides.map(([name]) => [name, []]));
  for (let r = 0; r < repeats; r++) {
    for (const [name, kind, workers = 1] of sides) {
      const res = await measure(kind, loadKind, seconds, connections, workers);
      res.cpuUsPerReq = (res.serverCpuMs * 1000) / res.total;
      runs[name].push(res);
      const latency = res.p50 === undefined ? '' : `  p50 ${res.p50} ms  p99 ${res.p99} ms`;
      console.log(
        `  ${label.padEnd(8)} ${name.padEnd(22)} ${Math.round(res.rps).toString().padStart(8)} req/s${latency}  server ${res.cpuUsPerReq.toFixed(2)} µs CPU/req`,
      );
    }
  }
  return runs;
}

async function runHttpGroup(group, sides, seconds, connections, repeats) {
  const list = Object.entries(sides);
  const runs = await runSides(group, list, '--load-http', seconds, connections, repeats);
  const summary = {};
  for (const [name, rs] of Object.entries(runs)) {
    summary[name] = {
      ...summarize(rs),
      p99: median(rs.map((x) => x.p99)),
      errors: rs.reduce((n, x) => n + x.errors, 0),
    };
  }
  return { summary, runs };
}

async function runEcho(seconds, repeats) {
  const sides = [
    ['zerosock, 1 worker', 'zerosock-echo', 1],
    ['zerosock, 2 workers', 'zerosock-echo', 2],
    ['node:net, main thread', 'node-echo', 1],
  ];
  const runs = await runSides('echo', sides, '--load-echo', seconds, 100, repeats);
  const summary = Object.fromEntries(Object.entries(runs).map(([k, rs]) => [k, summarize(rs)]));
  return { summary, runs };
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
} else if (flag('profile')) {
  await profile(opt('profile'), Number(opt('seconds', 5)), Number(opt('connections', 50)));
} else {
  await main();
}
