// A paced node:net client in its own process: `conns` connections to 127.0.0.1:port that send
// `rate` 64 B requests per second between them (round robin, open loop) for `ms` milliseconds,
// check every echo against its request, and print one JSON line
// `{ requests, replies, bad, ms }` once every reply came. Exits 3 after ms + 20 s.
//
//   node paced-client.mjs <port> <conns> <rate> <ms>
import net from 'node:net';
import { once } from 'node:events';

const [port, conns, rate, ms] = process.argv.slice(2).map(Number);
setTimeout(() => {
  console.error('paced-client: replies missing after the deadline');
  process.exit(3);
}, ms + 20_000).unref();

const lanes = [];
let replies = 0;
let bad = 0;
for (let i = 0; i < conns; i++) {
  const s = net.connect({ port, host: '127.0.0.1', noDelay: true });
  await once(s, 'connect');
  const lane = { s, sent: [], got: Buffer.alloc(0) };
  s.on('data', (d) => {
    lane.got = lane.got.length ? Buffer.concat([lane.got, d]) : d;
    while (lane.got.length >= 64) {
      if (!lane.got.subarray(0, 64).equals(lane.sent.shift())) bad++;
      lane.got = lane.got.subarray(64);
      replies++;
    }
  });
  lanes.push(lane);
}

const start = performance.now();
let requests = 0;
let next = 0;
await new Promise((resolve) => {
  const pump = () => {
    const now = performance.now();
    if (now - start >= ms) return resolve();
    const due = Math.floor(((now - start) * rate) / 1000) + 1;
    for (; requests < due; requests++) {
      const lane = lanes[next];
      next = (next + 1) % lanes.length;
      const msg = Buffer.alloc(64, requests & 0xff);
      msg.writeUInt32LE(requests);
      lane.sent.push(msg);
      lane.s.write(msg);
    }
    setTimeout(pump, Math.max(0, start + (requests * 1000) / rate - now));
  };
  pump();
});
const t0 = performance.now();
while (replies < requests && performance.now() - t0 < 10_000) {
  await new Promise((r) => setTimeout(r, 5));
}
console.log(JSON.stringify({ requests, replies, bad, ms: performance.now() - start }));
for (const { s } of lanes) s.destroy();
