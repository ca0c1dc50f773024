// Sending a file: a sender process (a server) sends one page-cached file of --mb MiB to each
// connection of a node:net client (another process) that counts the bytes (and with --sha
// checks their SHA-256). Senders: zerosock `sock.sendFile(path)` on io_uring (splice file →
// pipe → socket) and on epoll (sendfile(2)), against node:net `fs.createReadStream(path)
// .pipe(socket)`; same run, alternating, median of N. Reports Gbit/s end to end and the
// sender's CPU seconds per GB (/proc/<pid>/stat). With `wrk` on PATH, also
// examples/static-file-server.mjs against its --net twin (requests/s on a 64 KiB file).
//
//   node benchmark/sendfile.mjs [--mb 1024] [--repeats 3] [--sha] [--wrk-seconds 5]
//
// The file is written to os.tmpdir(), read once (so it is in the page cache) and deleted at
// the end. Writes benchmark/results/sendfile-<date>.{json,md}.
import { execFileSync, fork } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  createReadStream,
  mkdirSync,
  mkdtempSync,
  openSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { median } from './lib/stats.mjs';
import { cpuSeconds, machine } from './lib/proc.mjs';

const { values: a } = parseArgs({
  options: {
    mb: { type: 'string', default: '1024' },
    repeats: { type: 'string', default: '3' },
    sha: { type: 'boolean', default: false },
    'wrk-seconds': { type: 'string', default: '5' },
    client: { type: 'boolean', default: false }, // internal: run as the client process
    sender: { type: 'string' }, // internal: run as a sender: 'io_uring' | 'epoll' | 'node:net'
    file: { type: 'string' }, // internal: the sender's file
    'no-write': { type: 'boolean', default: false },
  },
});
const bytes = Number(a.mb) * 2 ** 20;
const NET = 'node:net';
const BASELINE = 'node:net createReadStream().pipe()';
/** Every child forked, killed at the end (after a failed run too). */
const children = new Set();
const TARGET = { gbit: 1.5, cpu: 0.3 }; // zerosock / node:net: Gbit/s at least, CPU-s/GB at most

// A child whose parent is gone (a failed run) exits instead of listening on.
if (a.client || a.sender !== undefined) process.once('disconnect', () => process.exit(0));

if (a.client) {
  // Connects where told, counts (and hashes) until the sender's FIN, reports.
  process.on('message', ({ port }) => {
    const h = a.sha ? createHash('sha256') : null;
    let n = 0;
    const s = net.connect(port, '127.0.0.1');
    s.on('data', (d) => {
      n += d.length;
      h?.update(d);
    });
    s.on('end', () => process.send({ bytes: n, sha: h?.digest('hex') }));
    s.on('error', (err) => process.send({ bytes: n, error: err.message }));
  });
  process.send({ ready: true });
} else if (a.sender !== undefined) {
  await sender(a.sender, a.file);
} else {
  await main();
}

/** A server that sends `file` to every connection, then FIN; tells its parent the port. */
async function sender(lib, file) {
  if (lib === NET) {
    const server = net.createServer((s) => {
      createReadStream(file).pipe(s);
      s.on('error', () => s.destroy());
      s.on('finish', () => process.send({ done: true, backend: NET }));
    });
    server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
    return;
  }
  const { createServer } = await import('zerosock');
  const server = createServer({ backend: lib }, async (sock) => {
    sock.on('error', () => {});
    try {
      const { bytes: sent } = await sock.sendFile(file);
      sock.end();
      process.send({ done: true, sent, backend: sock.backend });
    } catch (err) {
      sock.destroy();
      process.send({ done: true, error: err.message });
    }
  });
  await server.listen({ port: 0, host: '127.0.0.1' });
  process.send({ port: server.address().port });
}

function child(script, args) {
  const c = fork(script, args, { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  children.add(c);
  c.once('exit', () => children.delete(c));
  const first = new Promise((resolve, reject) => {
    c.once('message', resolve);
    c.once('exit', (code) => reject(new Error(`${script} exited (${code})`)));
  });
  return { c, first };
}

function nextMessage(c) {
  return new Promise((resolve) => c.once('message', resolve));
}

/** Writes `n` bytes of random 1 MiB blocks to `path`; returns their SHA-256. */
function makeFile(path, n) {
  const h = createHash('sha256');
  const fd = openSync(path, 'w');
  try {
    for (let left = n; left > 0; left -= 1 << 20) {
      const block = randomBytes(Math.min(left, 1 << 20));
      h.update(block);
      writeSync(fd, block);
    }
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

/** Reads `path` once, so the runs send it from the page cache. */
async function warm(path) {
  let n = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) n += chunk.length;
  return n;
}

async function main() {
  const self = fileURLToPath(import.meta.url);
  const { probe } = await import('zerosock');
  const report = probe();
  const libs = [
    ...(report.ioUring.available && report.backend === 'io_uring' ? ['io_uring'] : []),
    'epoll',
    NET,
  ];
  if (!libs.includes('io_uring')) {
    console.log(`io_uring row skipped: ${report.ioUring.error ?? 'io_uring is not usable here'}`);
  }
  const dir = mkdtempSync(join(os.tmpdir(), 'zerosock-sendfile-bench-'));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  process.once('SIGINT', () => (cleanup(), process.exit(130)));
  try {
    const file = join(dir, `file-${a.mb}mb.bin`);
    const sha = makeFile(file, bytes);
    await warm(file);
    const client = child(self, ['--client', ...(a.sha ? ['--sha'] : [])]);
    await client.first;
    const runs = Object.fromEntries(libs.map((l) => [l, []]));
    const loadAvg = os.loadavg();
    for (let r = 0; r < Number(a.repeats); r++) {
      const order = r % 2 === 0 ? libs : [...libs].reverse();
      for (const lib of order) {
        const s = child(self, ['--sender', lib, '--file', file]);
        const port = (await s.first).port;
        const done = nextMessage(s.c);
        const cpu0 = cpuSeconds(s.c.pid);
        const t0 = performance.now();
        const arrived = nextMessage(client.c);
        client.c.send({ port });
        const got = await arrived;
        const seconds = (performance.now() - t0) / 1000;
        const sent = await done;
        const cpu = cpuSeconds(s.c.pid) - cpu0;
        s.c.kill();
        if (got.error !== undefined || sent.error !== undefined) {
          throw new Error(`${lib}: ${got.error ?? sent.error}`);
        }
        if (got.bytes !== bytes)
          throw new Error(`${lib}: the client got ${got.bytes} of ${bytes} B`);
        if (a.sha && got.sha !== sha) throw new Error(`${lib}: SHA-256 differs`);
        if (sent.backend !== lib) throw new Error(`${lib}: the sender ran on ${sent.backend}`);
        const row = { gbitPerSec: (bytes * 8) / seconds / 1e9, cpuSecPerGB: cpu / (bytes / 1e9) };
        runs[lib].push(row);
        console.log(
          `round ${r + 1} ${lib.padEnd(9)}: ${row.gbitPerSec.toFixed(2)} Gbit/s, sender ${row.cpuSecPerGB.toFixed(3)} CPU-s/GB`,
        );
      }
    }
    client.c.kill();
    const wrk = await wrkRows(dir);
    report_(libs, runs, loadAvg, wrk);
  } finally {
    for (const c of children) c.kill();
    cleanup();
  }
}

/** examples/static-file-server.mjs vs its --net twin under wrk, or why not. */
async function wrkRows(dir) {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
  } catch (err) {
    // wrk --version exits 1 after printing its version; only a missing binary is ENOENT.
    if (err.code === 'ENOENT') {
      console.log('static file server rows skipped: wrk is not on PATH');
      return { skipped: 'wrk is not on PATH' };
    }
  }
  const root = join(dir, 'www');
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, 'f64k.bin'), randomBytes(64 * 1024));
  const script = fileURLToPath(new URL('../examples/static-file-server.mjs', import.meta.url));
  const rows = {};
  for (const lib of ['zerosock', NET]) {
    const srv = child(script, ['--port', '0', '--root', root, ...(lib === NET ? ['--net'] : [])]);
    const { port } = await srv.first;
    const cpu0 = cpuSeconds(srv.c.pid);
    const out = execFileSync(
      'wrk',
      ['-t1', '-c32', `-d${a['wrk-seconds']}s`, `http://127.0.0.1:${port}/f64k.bin`],
      { encoding: 'utf8' },
    );
    const cpu = cpuSeconds(srv.c.pid) - cpu0;
    srv.c.kill();
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
    const total = Number(/(\d+) requests in/.exec(out)?.[1]);
    if (/Non-2xx|Socket errors/.test(out) || !(rps > 0)) throw new Error(`wrk (${lib}):\n${out}`);
    rows[lib] = { requestsPerSec: rps, cpuMsPerRequest: (cpu * 1000) / total };
    console.log(
      `wrk ${lib.padEnd(9)}: ${rps.toFixed(0)} requests/s, ${rows[lib].cpuMsPerRequest.toFixed(3)} server CPU-ms/request`,
    );
  }
  return rows;
}

function report_(libs, runs, loadAvg, wrk) {
  const m = (lib, k) => median(runs[lib].map((x) => x[k]));
  const n = { gbit: m(NET, 'gbitPerSec'), cpu: m(NET, 'cpuSecPerGB') };
  const env = machine({
    loadAvgAtStart: loadAvg,
    mb: Number(a.mb),
    repeats: Number(a.repeats),
    sha: a.sha,
  });
  const date = env.date;
  const mark = (ok) => (ok ? '✓' : '✗');
  let md = `# Sending a file — ${date}\n\n`;
  md += `\`node benchmark/sendfile.mjs --mb ${a.mb}${a.sha ? ' --sha' : ''}\`: a sender (its own process) sends a page-cached file of ${a.mb} MiB to a node:net client (its own process) that counts the bytes${a.sha ? ' and checks their SHA-256' : ''}; same run alternating, median of ${a.repeats}. Sender CPU from /proc/<pid>/stat.\n\n`;
  md += `Machine: ${env.cpu}, ${env.cpus} CPUs, Linux ${env.kernel}, node ${env.node}; load average ${loadAvg.map((x) => x.toFixed(2)).join(' ')} at start, ${env.loadAvg.map((x) => x.toFixed(2)).join(' ')} at end.\n\n`;
  md += `| sender | Gbit/s ↑ | sender CPU-s/GB ↓ | Gbit/s vs ${BASELINE} (target ≥ ${TARGET.gbit}×) | CPU-s/GB vs ${BASELINE} (target ≤ ${TARGET.cpu}×) |\n`;
  md += '|---|---:|---:|---:|---:|\n';
  const what = {
    io_uring: 'zerosock `sock.sendFile(path)`, io_uring (splice)',
    epoll: 'zerosock `sock.sendFile(path)`, epoll (sendfile(2))',
    [NET]: `${BASELINE} (baseline)`,
  };
  for (const lib of libs) {
    const z = { gbit: m(lib, 'gbitPerSec'), cpu: m(lib, 'cpuSecPerGB') };
    const rg = z.gbit / n.gbit;
    const rc = z.cpu / n.cpu;
    const ratios =
      lib === NET
        ? '1.00× | 1.00×'
        : `${rg.toFixed(2)}× ${mark(rg >= TARGET.gbit)} | ${rc.toFixed(2)}× ${mark(rc <= TARGET.cpu)}`;
    md += `| ${what[lib]} | ${z.gbit.toFixed(2)} | ${z.cpu.toFixed(3)} | ${ratios} |\n`;
  }
  if (wrk.skipped !== undefined) {
    md += `\nStatic file server (examples/static-file-server.mjs under wrk): skipped, ${wrk.skipped}.\n`;
  } else {
    const z = wrk.zerosock;
    const b = wrk[NET];
    md += `\nStatic file server, a 64 KiB file, \`wrk -t1 -c32 -d${a['wrk-seconds']}s\` (keep-alive):\n\n`;
    md += '| server | requests/s ↑ | server CPU-ms/request ↓ |\n|---|---:|---:|\n';
    md += `| examples/static-file-server.mjs (zerosock sendFile) | ${z.requestsPerSec.toFixed(0)} | ${z.cpuMsPerRequest.toFixed(3)} |\n`;
    md += `| examples/static-file-server.mjs --net (${BASELINE}) | ${b.requestsPerSec.toFixed(0)} | ${b.cpuMsPerRequest.toFixed(3)} |\n`;
    md += `| zerosock / node:net | ${(z.requestsPerSec / b.requestsPerSec).toFixed(2)}× | ${(z.cpuMsPerRequest / b.cpuMsPerRequest).toFixed(2)}× |\n`;
  }
  console.log(`\n${md}`);
  if (!a['no-write']) {
    const out = fileURLToPath(new URL('./results/', import.meta.url));
    writeFileSync(
      `${out}sendfile-${date}.json`,
      `${JSON.stringify({ env, runs, wrk }, null, 2)}\n`,
    );
    writeFileSync(`${out}sendfile-${date}.md`, md);
  }
}
