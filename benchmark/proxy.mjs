// A TCP proxy moving bulk data: examples/proxy.mjs on zerosock (forwarding the receive buffers)
// against its node:net twin (`a.pipe(b)`), each in its own process, between a node:net source
// (this process, 1 MiB writes of a pattern) and a node:net sink (a child process, SHA-256 of
// what arrives, checked), same run, alternating, median of N. Reports Gbit/s end to end, the
// proxy's CPU seconds per GB (/proc/<pid>/stat) and the share of bytes zerosock forwarded
// without a copy (the proxy's own count).
//
//   node benchmark/proxy.mjs [--mb 1024] [--repeats 3]
//
// Writes benchmark/results/proxy-<date>.{json,md}.
import { fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { median } from './lib/stats.mjs';
import { cpuSeconds, machine } from './lib/proc.mjs';

const { values: a } = parseArgs({
  options: {
    mb: { type: 'string', default: '1024' },
    repeats: { type: 'string', default: '3' },
    sink: { type: 'boolean', default: false }, // internal: run as the sink process
    'no-write': { type: 'boolean', default: false },
  },
});
const bytes = Number(a.mb) * 2 ** 20; // (not `<< 20`: 2048 MiB would overflow int32)

if (a.sink) {
  // Counts and hashes each connection's bytes; reports them when the source's FIN arrives.
  const server = net.createServer((s) => {
    let n = 0;
    const h = createHash('sha256');
    s.on('data', (d) => {
      n += d.length;
      h.update(d);
    });
    s.on('end', () => {
      process.send({ bytes: n, sha: h.digest('hex') });
      s.end();
    });
  });
  server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
} else {
  await main();
}

function child(script, args) {
  const c = fork(script, args, { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const first = new Promise((resolve, reject) => {
    c.once('message', resolve);
    c.once('exit', (code) => reject(new Error(`${script} exited (${code})`)));
  });
  return { c, first };
}

async function main() {
  const self = fileURLToPath(import.meta.url);
  const proxyScript = fileURLToPath(new URL('../examples/proxy.mjs', import.meta.url));
  const sink = child(self, ['--sink']);
  const sinkPort = (await sink.first).port;
  // 1 MiB writes of a pattern; the sink's SHA-256 must be this one
  const chunk = Buffer.alloc(1 << 20);
  for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 2654435761) >>> 24;
  const want = createHash('sha256');
  for (let at = 0; at < bytes; at += chunk.length) want.update(chunk);
  const wantSha = want.digest('hex');
  const runs = { zerosock: [], 'node:net': [] };
  const loadAvg = os.loadavg();
  for (let r = 0; r < Number(a.repeats); r++) {
    for (const lib of r % 2 === 0 ? ['zerosock', 'node:net'] : ['node:net', 'zerosock']) {
      const proxy = child(proxyScript, [
        '--port',
        '0',
        '--to',
        `127.0.0.1:${sinkPort}`,
        ...(lib === 'node:net' ? ['--net'] : []),
      ]);
      const port = (await proxy.first).port;
      const cpu0 = cpuSeconds(proxy.c.pid);
      const t0 = performance.now();
      const arrived = new Promise((resolve) => sink.c.once('message', resolve));
      await new Promise((resolve, reject) => {
        const s = net.connect(port, '127.0.0.1', () => {
          let sent = 0;
          const pump = () => {
            while (sent < bytes) {
              sent += chunk.length;
              if (!s.write(chunk)) return s.once('drain', pump);
            }
            s.end();
          };
          pump();
        });
        s.on('error', reject);
        s.on('finish', resolve);
      });
      const got = await arrived;
      const seconds = (performance.now() - t0) / 1000;
      const cpu = cpuSeconds(proxy.c.pid) - cpu0;
      if (got.bytes !== bytes) throw new Error(`${lib}: sink got ${got.bytes} of ${bytes} B`);
      if (got.sha !== wantSha) throw new Error(`${lib}: the sink's SHA-256 differs`);
      const row = { gbitPerSec: (bytes * 8) / seconds / 1e9, cpuSecPerGB: cpu / (bytes / 1e9) };
      if (lib === 'zerosock') {
        // the proxy counts a connection once both its sockets closed
        let totals;
        for (let i = 0; i < 200 && !(totals?.sent >= bytes); i++) {
          proxy.c.send('totals');
          totals = await new Promise((resolve) =>
            proxy.c.once('message', (m) => resolve(m.totals)),
          );
          if (!(totals.sent >= bytes)) await new Promise((r) => setTimeout(r, 10));
        }
        row.forwardedShare = totals.forwarded / totals.sent;
      }
      proxy.c.kill();
      runs[lib].push(row);
      console.log(
        `round ${r + 1} ${lib.padEnd(9)}: ${row.gbitPerSec.toFixed(2)} Gbit/s, proxy ${row.cpuSecPerGB.toFixed(3)} CPU-s/GB${row.forwardedShare === undefined ? '' : `, ${(100 * row.forwardedShare).toFixed(1)}% forwarded`}`,
      );
    }
  }
  sink.c.kill();
  const m = (lib, k) => median(runs[lib].map((x) => x[k]));
  const z = {
    gbit: m('zerosock', 'gbitPerSec'),
    cpu: m('zerosock', 'cpuSecPerGB'),
    fwd: m('zerosock', 'forwardedShare'),
  };
  const n = { gbit: m('node:net', 'gbitPerSec'), cpu: m('node:net', 'cpuSecPerGB') };
  const env = machine({ loadAvgAtStart: loadAvg, mb: Number(a.mb), repeats: Number(a.repeats) });
  const date = env.date;
  let md = `# TCP proxy, bulk — ${date}\n\n`;
  md += `\`node benchmark/proxy.mjs --mb ${a.mb}\`: a node:net source (1 MiB writes) → the proxy (its own process) → a node:net sink (its own process, SHA-256 of what arrived checked), ${a.mb} MiB per run, same run alternating, median of ${a.repeats}. Proxy CPU from /proc/<pid>/stat; forwarded: bytes the zerosock proxy sent from receive buffers without a copy (its sockets' \`forwardedBytes\`).\n\n`;
  md += `Machine: ${env.cpu}, ${env.cpus} CPUs, Linux ${env.kernel}, node ${env.node}; load average ${loadAvg.map((x) => x.toFixed(2)).join(' ')} at start, ${env.loadAvg.map((x) => x.toFixed(2)).join(' ')} at end.\n\n`;
  md += '| proxy | Gbit/s ↑ | proxy CPU-s/GB ↓ | forwarded |\n|---|---:|---:|---:|\n';
  md += `| zerosock (examples/proxy.mjs: 'data' views sent on, forwarded) | ${z.gbit.toFixed(2)} | ${z.cpu.toFixed(3)} | ${(100 * z.fwd).toFixed(1)}% |\n`;
  md += `| node:net \`a.pipe(b)\` (peer) | ${n.gbit.toFixed(2)} | ${n.cpu.toFixed(3)} | |\n`;
  md += `| zerosock / node:net | ${(z.gbit / n.gbit).toFixed(2)}× | ${(z.cpu / n.cpu).toFixed(2)}× | |\n`;
  console.log(`\n${md}`);
  if (!a['no-write']) {
    const dir = fileURLToPath(new URL('./results/', import.meta.url));
    writeFileSync(`${dir}proxy-${date}.json`, `${JSON.stringify({ env, runs }, null, 2)}\n`);
    writeFileSync(`${dir}proxy-${date}.md`, md);
  }
}
