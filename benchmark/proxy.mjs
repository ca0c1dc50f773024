// A TCP proxy moving bulk data: examples/proxy.mjs on zerosock (forwarding the receive buffers)
// against its node:net twin (`a.pipe(b)`), each in its own process, between a node:net source
// (this process) and a node:net sink (a child process), same run, alternating, median of N.
// Reports Gbit/s end to end and the proxy's CPU seconds per GB (/proc/<pid>/stat).
//
//   node benchmark/proxy.mjs [--mb 1024] [--repeats 3]
//
// Writes benchmark/results/proxy-<date>.{json,md}.
import { fork } from 'node:child_process';
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
const bytes = Number(a.mb) << 20;

if (a.sink) {
  // Counts each connection's bytes; reports them when the source's FIN arrives.
  const server = net.createServer((s) => {
    let n = 0;
    s.on('data', (d) => (n += d.length));
    s.on('end', () => {
      process.send({ bytes: n });
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
  const chunk = Buffer.alloc(64 * 1024, 0x5a);
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
      const arrived = new Promise((resolve) => sink.c.once('message', (m) => resolve(m.bytes)));
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
      proxy.c.kill();
      if (got !== bytes) throw new Error(`${lib}: sink got ${got} of ${bytes} B`);
      const row = { gbitPerSec: (bytes * 8) / seconds / 1e9, cpuSecPerGB: cpu / (bytes / 1e9) };
      runs[lib].push(row);
      console.log(
        `round ${r + 1} ${lib.padEnd(9)}: ${row.gbitPerSec.toFixed(2)} Gbit/s, proxy ${row.cpuSecPerGB.toFixed(3)} CPU-s/GB`,
      );
    }
  }
  sink.c.kill();
  const m = (lib, k) => median(runs[lib].map((x) => x[k]));
  const z = { gbit: m('zerosock', 'gbitPerSec'), cpu: m('zerosock', 'cpuSecPerGB') };
  const n = { gbit: m('node:net', 'gbitPerSec'), cpu: m('node:net', 'cpuSecPerGB') };
  const env = machine({ loadAvgAtStart: loadAvg, mb: Number(a.mb), repeats: Number(a.repeats) });
  const date = env.date;
  let md = `# TCP proxy, bulk — ${date}\n\n`;
  md += `\`node benchmark/proxy.mjs --mb ${a.mb}\`: a node:net source → the proxy (its own process) → a node:net sink (its own process), ${a.mb} MiB per run, same run alternating, median of ${a.repeats}. Proxy CPU from /proc/<pid>/stat.\n\n`;
  md += `Machine: ${env.cpu}, ${env.cpus} CPUs, Linux ${env.kernel}, node ${env.node}; load average ${loadAvg.map((x) => x.toFixed(2)).join(' ')} at start, ${env.loadAvg.map((x) => x.toFixed(2)).join(' ')} at end.\n\n`;
  md += '| proxy | Gbit/s ↑ | proxy CPU-s/GB ↓ |\n|---|---:|---:|\n';
  md += `| zerosock (examples/proxy.mjs: 'data' views sent on, forwarded) | ${z.gbit.toFixed(2)} | ${z.cpu.toFixed(3)} |\n`;
  md += `| node:net \`a.pipe(b)\` (peer) | ${n.gbit.toFixed(2)} | ${n.cpu.toFixed(3)} |\n`;
  md += `| zerosock / node:net | ${(z.gbit / n.gbit).toFixed(2)}× | ${(z.cpu / n.cpu).toFixed(2)}× |\n`;
  console.log(`\n${md}`);
  if (!a['no-write']) {
    const dir = fileURLToPath(new URL('./results/', import.meta.url));
    writeFileSync(`${dir}proxy-${date}.json`, `${JSON.stringify({ env, runs }, null, 2)}\n`);
    writeFileSync(`${dir}proxy-${date}.md`, md);
  }
}
