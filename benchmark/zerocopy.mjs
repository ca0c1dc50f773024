// Zerocopy send benchmark: `send()` vs `sendZeroCopy()` (per backend) vs node:net, on loopback,
// for 16 KiB, 64 KiB and 1 MiB messages: Gbit/s, CPU-seconds per GB (sender and receiver), and
// the latency of a 1 MiB message (send, then wait for a 1-byte reply). Every zerocopy figure
// comes with the kernel's copied/zerocopy counts: on loopback the kernel copies (the receiver
// can't keep the sender's pages), so this measures the cost of the zerocopy machinery there.
//
//   node benchmark/zerocopy.mjs [--mb N] [--pings N] [--json FILE]
//
// The receiver (a zerosock epoll server) runs in a child process; it reports its CPU time.
import { fork } from 'node:child_process';
import net from 'node:net';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { BufferPool, connect, createServer, probe } from 'zerosock';

const { values: args } = parseArgs({
  options: {
    mb: { type: 'string', default: '1024' },
    pings: { type: 'string', default: '200' },
    json: { type: 'string' },
    receiver: { type: 'boolean', default: false },
  },
});

if (args.receiver) {
  // Child: counts bytes per connection; `msg` bytes complete a message answered with 1 byte
  // (latency mode, when the first 4 bytes of the connection announce a message size).
  let cpu0 = process.cpuUsage();
  const server = createServer({ backend: 'epoll' }, (sock) => {
    let header = null;
    let got = 0;
    let total = 0;
    sock.on('data', (v) => {
      total += v.byteLength;
      if (header === null) {
        header = Buffer.from(v.subarray(0, 4)).readUInt32LE(0);
        got = v.byteLength - 4;
      } else got += v.byteLength;
      while (header > 0 && got >= header) {
        got -= header;
        sock.send(Buffer.from([1]));
      }
    });
    sock.on('end', () => {
      const cpu = process.cpuUsage(cpu0);
      process.send({ bytes: total, cpuS: (cpu.user + cpu.system) / 1e6 });
      cpu0 = process.cpuUsage();
      sock.end();
    });
  });
  await server.listen({ port: 0, host: '127.0.0.1' });
  process.send({ port: server.address().port });
  process.on('disconnect', () => process.exit(0));
} else {
  await main();
}

function startReceiver() {
  const child = fork(new URL(import.meta.url).pathname, ['--receiver'], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const messages = [];
  let waiter = null;
  child.on('message', (m) => {
    if (waiter) {
      const w = waiter;
      waiter = null;
      w(m);
    } else messages.push(m);
  });
  const next = () =>
    messages.length > 0 ? Promise.resolve(messages.shift()) : new Promise((r) => (waiter = r));
  return { child, next };
}

function header(size) {
  const h = Buffer.alloc(4);
  h.writeUInt32LE(size, 0);
  return h;
}

/** Sends `total` bytes as `size`-byte messages with one of the methods; returns the figures. */
async function stream(rx, method, backend, size, total) {
  const port = rx.port;
  const pool = new BufferPool({ size: Math.max(size, 4096), count: 32 });
  const bufs = Array.from({ length: 32 }, () => pool.acquire().subarray(0, size));
  for (const b of bufs) b.fill(0x5a);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let zc = null;
  if (method === 'net') {
    const s = net.connect({ port, host: '127.0.0.1' });
    await new Promise((r) => s.once('connect', r));
    s.setNoDelay(true);
    s.write(header(0));
    for (let sent = 0, i = 0; sent < total; sent += size, i++) {
      if (!s.write(bufs[i % 32])) await new Promise((r) => s.once('drain', r));
    }
    s.end();
    await new Promise((r) => s.once('close', r));
  } else {
    const s = await connect({ port, host: '127.0.0.1', backend, zerocopyThreshold: 0 });
    s.send(header(0));
    const inFlight = [];
    for (let sent = 0, i = 0; sent < total; sent += size, i++) {
      const b = bufs[i % 32];
      if (method === 'send') {
        if (!s.send(b)) await new Promise((r) => s.once('drain', r));
      } else {
        if (inFlight.length === 32) await inFlight.shift();
        inFlight.push(s.sendZeroCopy(b));
      }
    }
    await Promise.all(inFlight);
    zc = s.stats().zerocopy;
    s.end();
    await new Promise((r) => s.once('close', r));
  }
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const r = await rx.next();
  const gb = total / 2 ** 30;
  return {
    gbits: (total * 8) / secs / 1e9,
    senderCpuPerGB: (cpu.user + cpu.system) / 1e6 / gb,
    receiverCpuPerGB: r.cpuS / gb,
    ok: r.bytes === total + 4,
    copiedBytes: zc?.copiedBytes ?? null,
    zerocopyBytes: zc?.zerocopyBytes ?? null,
    notifications: zc?.notifications ?? null,
  };
}

/** p50/p99 of `pings` 1 MiB request → 1 byte reply round trips. */
async function latency(rx, method, backend, pings) {
  const size = 1 << 20;
  const port = rx.port;
  const pool = new BufferPool({ size, count: 2 });
  const buf = pool.acquire();
  buf.fill(0x33);
  const times = [];
  let zc = null;
  if (method === 'net') {
    const s = net.connect({ port, host: '127.0.0.1' });
    await new Promise((r) => s.once('connect', r));
    s.setNoDelay(true);
    s.write(header(size));
    for (let i = 0; i < pings; i++) {
      const t0 = performance.now();
      s.write(buf);
      await new Promise((r) => s.once('data', r));
      times.push(performance.now() - t0);
    }
    s.end();
    await new Promise((r) => s.once('close', r));
  } else {
    const s = await connect({ port, host: '127.0.0.1', backend, zerocopyThreshold: 0 });
    s.send(header(size));
    for (let i = 0; i < pings; i++) {
      const t0 = performance.now();
      const reply = new Promise((r) => s.once('data', r));
      if (method === 'send') s.send(buf);
      else void s.sendZeroCopy(buf);
      await reply;
      times.push(performance.now() - t0);
    }
    zc = s.stats().zerocopy;
    s.end();
    await new Promise((r) => s.once('close', r));
  }
  await rx.next();
  times.sort((a, b) => a - b);
  const q = (p) => times[Math.min(times.length - 1, Math.floor(p * times.length))];
  return { p50us: q(0.5) * 1000, p99us: q(0.99) * 1000, copiedBytes: zc?.copiedBytes ?? null };
}

async function main() {
  const report = probe();
  const backends = report.ioUring.available ? ['io_uring', 'epoll'] : ['epoll'];
  const totalMb = Number(args.mb);
  const pings = Number(args.pings);
  const rx = startReceiver();
  rx.port = (await rx.next()).port;
  const methods = [['net', 'node:net', null]];
  for (const b of backends) {
    methods.push(['send', `send() ${b}`, b], ['zc', `sendZeroCopy() ${b}`, b]);
  }
  const rows = [];
  console.log(`kernel ${report.kernel}; ${totalMb} MiB per stream; receiver: zerosock epoll`);
  for (const size of [16 << 10, 64 << 10, 1 << 20]) {
    for (const [method, label, backend] of methods) {
      const r = await stream(rx, method, backend, size, totalMb << 20);
      rows.push({ size, label, ...r });
      const zc =
        r.copiedBytes === null
          ? ''
          : ` | copied ${(r.copiedBytes / 2 ** 20).toFixed(0)} MiB, zerocopy ${(r.zerocopyBytes / 2 ** 20).toFixed(0)} MiB, ${r.notifications} completions`;
      console.log(
        `${String(size >> 10).padStart(5)} KiB ${label.padEnd(22)} ${r.gbits.toFixed(2).padStart(6)} Gbit/s  sender ${r.senderCpuPerGB.toFixed(2)} CPU-s/GB  receiver ${r.receiverCpuPerGB.toFixed(2)} CPU-s/GB${r.ok ? '' : '  BYTES MISMATCH'}${zc}`,
      );
    }
  }
  const lat = [];
  for (const [method, label, backend] of methods) {
    const r = await latency(rx, method, backend, pings);
    lat.push({ label, ...r });
    console.log(
      `1 MiB message latency ${label.padEnd(22)} p50 ${r.p50us.toFixed(0)} µs  p99 ${r.p99us.toFixed(0)} µs${r.copiedBytes === null ? '' : `  (copied ${(r.copiedBytes / 2 ** 20).toFixed(0)} MiB)`}`,
    );
  }
  if (args.json) writeFileSync(args.json, JSON.stringify({ rows, latency: lat }, null, 2));
  rx.child.disconnect();
}
