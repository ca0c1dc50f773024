// TLS through the engine against node:tls, both ends on the same library, each end in its own
// process, same run, alternating, median of N. Rows:
//   - bulk: 1 MiB writes (send() / write() with 'drain'), Gbit/s and CPU-s/GB of each end;
//   - messages: 64 B, one send() / write() per message, messages/s at the receiver;
//   - handshakes: full handshakes per second (connect, verify, close), one at a time;
//   - ping-pong: 64 B there and back, one at a time: reply p50/p99 at the client, CPU per round
//     trip of both ends (zerosock with its defaults).
// CPU from /proc/<pid>/stat of the two processes. Certificates made with `openssl`.
//
//   node benchmark/tls.mjs [--mb 512] [--msgs 500000] [--handshakes 300] [--rounds 20000] [--repeats 3]
//
// Writes benchmark/results/tls-<date>.{json,md}.
import { fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { median } from './lib/stats.mjs';
import { cpuSeconds, machine } from './lib/proc.mjs';

const { values: a } = parseArgs({
  options: {
    mb: { type: 'string', default: '512' },
    msgs: { type: 'string', default: '500000' },
    handshakes: { type: 'string', default: '300' },
    rounds: { type: 'string', default: '20000' },
    repeats: { type: 'string', default: '3' },
    role: { type: 'string' }, // internal: 'server' | 'client'
    lib: { type: 'string' },
    echo: { type: 'boolean', default: false }, // internal: the server echoes (ping-pong)
    'no-write': { type: 'boolean', default: false },
  },
});

const SELF = fileURLToPath(import.meta.url);

if (a.role === 'server') await server(a.lib, a.echo);
else if (a.role === 'client') await client(a.lib);
else await main();

/** A TLS server counting each connection's bytes (and echoing them with `echo`); reports the
 * count at the peer's FIN. */
async function server(lib, echo) {
  const { certs } = await import('../__test__/tls-certs.mjs');
  const c = certs();
  const count = (s, onData) => {
    let n = 0;
    onData((len) => (n += len));
    s.on('end', () => {
      process.send({ bytes: n });
      s.end();
    });
    s.on('error', () => {});
  };
  if (lib === 'zerosock') {
    const { createServer } = await import('zerosock');
    const srv = createServer({ tls: c.server }, (s) =>
      count(s, (f) =>
        s.on('data', (v) => {
          f(v.byteLength);
          if (echo) s.send(v);
        }),
      ),
    );
    await srv.listen({ port: 0, host: '127.0.0.1' });
    process.send({ port: srv.address().port, ca: c.ca });
  } else {
    const srv = tls.createServer(c.server, (s) =>
      count(s, (f) =>
        s.on('data', (d) => {
          f(d.length);
          if (echo) s.write(d);
        }),
      ),
    );
    srv.listen(0, '127.0.0.1', () => process.send({ port: srv.address().port, ca: c.ca }));
  }
}

/** Runs what the parent asks: { mode, port, ca, n }; answers { ms }. */
async function client(lib) {
  const z = lib === 'zerosock' ? await import('zerosock') : null;
  const open = async (port, ca) => {
    if (z) return z.connect({ port, host: '127.0.0.1', tls: { ca, servername: 'localhost' } });
    const s = tls.connect({ port, host: '127.0.0.1', ca, servername: 'localhost' });
    await new Promise((r, j) => (s.once('secureConnect', r), s.once('error', j)));
    return s;
  };
  const write = (s, b) => (z ? s.send(b) : s.write(b));
  process.on('message', async (m) => {
    const t0 = performance.now();
    if (m.mode === 'pingpong') {
      const s = await open(m.port, m.ca);
      const msg = Buffer.alloc(64, 0x5a);
      const closed = new Promise((r) => s.once('close', r));
      const rtts = [];
      let got = 0;
      let sentAt = 0;
      await new Promise((resolve) => {
        s.on('data', (d) => {
          got += d.byteLength;
          if (got < 64) return;
          got -= 64;
          rtts.push(performance.now() - sentAt);
          if (rtts.length === m.n) return resolve();
          sentAt = performance.now();
          write(s, msg);
        });
        sentAt = performance.now();
        write(s, msg);
      });
      s.end();
      await closed;
      rtts.sort((x, y) => x - y);
      const q = (f) => rtts[Math.min(rtts.length - 1, Math.floor(f * rtts.length))] * 1e3;
      process.send({ ms: performance.now() - t0, p50Us: q(0.5), p99Us: q(0.99) });
      return;
    }
    if (m.mode === 'handshakes') {
      for (let i = 0; i < m.n; i++) {
        const s = await open(m.port, m.ca);
        const closed = new Promise((r) => s.once('close', r));
        s.end();
        await closed;
      }
    } else {
      const s = await open(m.port, m.ca);
      const chunk = Buffer.alloc(m.mode === 'bulk' ? 1 << 20 : 64, 0x5a);
      const closed = new Promise((r) => s.once('close', r));
      let i = 0;
      await new Promise((resolve) => {
        const pump = () => {
          while (i < m.n) {
            i++;
            if (!write(s, chunk)) return void s.once('drain', pump);
          }
          resolve();
        };
        pump();
      });
      s.end();
      await closed;
    }
    process.send({ ms: performance.now() - t0 });
  });
  process.send({ ready: true });
}

function child(args) {
  const c = fork(SELF, args, { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const next = () => new Promise((resolve) => c.once('message', resolve));
  return { c, next };
}

async function one(lib, mode, n) {
  const srv = child(['--role', 'server', '--lib', lib, ...(mode === 'pingpong' ? ['--echo'] : [])]);
  const { port, ca } = await srv.next();
  const cli = child(['--role', 'client', '--lib', lib]);
  await cli.next();
  const cpu0 = [cpuSeconds(srv.c.pid), cpuSeconds(cli.c.pid)];
  const arrived = mode === 'handshakes' ? null : srv.next();
  cli.c.send({ mode, port, ca, n });
  const { ms, p50Us, p99Us } = await cli.next();
  const got = arrived === null ? null : (await arrived).bytes;
  const cpu = [cpuSeconds(srv.c.pid) - cpu0[0], cpuSeconds(cli.c.pid) - cpu0[1]];
  srv.c.kill();
  cli.c.kill();
  const seconds = ms / 1000;
  if (mode === 'bulk') {
    const bytes = n * 2 ** 20; // (not `<< 20`: 2048 MiB would overflow int32)
    if (got !== bytes) throw new Error(`${lib}: got ${got} of ${bytes} B`);
    const gb = bytes / 1e9;
    return {
      gbitPerSec: (bytes * 8) / seconds / 1e9,
      senderCpuPerGB: cpu[1] / gb,
      receiverCpuPerGB: cpu[0] / gb,
    };
  }
  if (mode === 'pingpong') {
    if (got !== n * 64) throw new Error(`${lib}: got ${got} of ${n * 64} B`);
    return { p50Us, p99Us, cpuUsPerRoundTrip: ((cpu[0] + cpu[1]) * 1e6) / n };
  }
  if (mode === 'msgs') {
    if (got !== n * 64) throw new Error(`${lib}: got ${got} of ${n * 64} B`);
    return { msgsPerSec: n / seconds, senderCpuUsPerMsg: (cpu[1] * 1e6) / n };
  }
  return { perSec: n / seconds, cpuMsPerHandshake: ((cpu[0] + cpu[1]) * 1e3) / n };
}

async function main() {
  const rows = [
    ['bulk', Number(a.mb), 'gbitPerSec'],
    ['msgs', Number(a.msgs), 'msgsPerSec'],
    ['handshakes', Number(a.handshakes), 'perSec'],
    ['pingpong', Number(a.rounds), 'p50Us'],
  ];
  const runs = {};
  for (const [mode, n] of rows) {
    runs[mode] = { zerosock: [], 'node:tls': [] };
    for (let r = 0; r < Number(a.repeats); r++) {
      for (const lib of r % 2 === 0 ? ['zerosock', 'node:tls'] : ['node:tls', 'zerosock']) {
        const row = await one(lib, mode, n);
        runs[mode][lib].push(row);
        console.log(`${mode} round ${r + 1} ${lib.padEnd(9)}: ${JSON.stringify(row)}`);
      }
    }
  }
  const m = (mode, lib, k) => median(runs[mode][lib].map((x) => x[k]));
  const env = machine({
    mb: Number(a.mb),
    msgs: Number(a.msgs),
    handshakes: Number(a.handshakes),
    rounds: Number(a.rounds),
    repeats: Number(a.repeats),
  });
  const f = (x, d = 2) => x.toFixed(d);
  const line = (what, k, d, lower) => {
    const z = m(what[0], 'zerosock', k);
    const n = m(what[0], 'node:tls', k);
    return `| ${what[1]} | ${f(z, d)} | ${f(n, d)} | ${f(z / n)}× ${lower ? '(lower is better)' : ''} |\n`;
  };
  let md = `# TLS through the engine vs node:tls — ${env.date}\n\n`;
  md += `\`node benchmark/tls.mjs --mb ${a.mb} --msgs ${a.msgs} --handshakes ${a.handshakes} --rounds ${a.rounds}\`: each end in its own process, both ends the same library (zerosock ↔ zerosock, node:tls ↔ node:tls), TLS 1.3, ECDSA P-256 (openssl-made), same run alternating, median of ${a.repeats}. CPU from /proc/<pid>/stat.\n\n`;
  md += `Machine: ${env.cpu}, ${env.cpus} CPUs, Linux ${env.kernel}, node ${env.node}.\n\n`;
  md += '| row | zerosock | node:tls (peer) | zerosock / node:tls |\n|---|---:|---:|---:|\n';
  md += line(['bulk', '1 MiB writes: Gbit/s'], 'gbitPerSec', 2);
  md += line(['bulk', '1 MiB writes: sender CPU-s/GB'], 'senderCpuPerGB', 3, true);
  md += line(['bulk', '1 MiB writes: receiver CPU-s/GB'], 'receiverCpuPerGB', 3, true);
  md += line(['msgs', '64 B, one send per message: messages/s'], 'msgsPerSec', 0);
  md += line(['msgs', '64 B: sender CPU-µs per message'], 'senderCpuUsPerMsg', 3, true);
  md += line(['handshakes', 'full handshakes/s (sequential)'], 'perSec', 0);
  md += line(['handshakes', 'CPU-ms per handshake (both ends)'], 'cpuMsPerHandshake', 2, true);
  md += line(['pingpong', '64 B ping-pong: reply p50 µs'], 'p50Us', 1, true);
  md += line(['pingpong', '64 B ping-pong: reply p99 µs'], 'p99Us', 1, true);
  md += line(
    ['pingpong', '64 B ping-pong: CPU-µs per round trip (both ends)'],
    'cpuUsPerRoundTrip',
    1,
    true,
  );
  console.log(`\n${md}`);
  if (!a['no-write']) {
    const dir = fileURLToPath(new URL('./results/', import.meta.url));
    writeFileSync(`${dir}tls-${env.date}.json`, `${JSON.stringify({ env, runs }, null, 2)}\n`);
    writeFileSync(`${dir}tls-${env.date}.md`, md);
  }
}
