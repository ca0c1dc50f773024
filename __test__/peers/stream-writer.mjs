// A node:net client in its own process that sends `bytes` to 127.0.0.1:port in random write
// sizes (1 B .. 256 KiB, seeded), honouring backpressure: pattern(block, seed) repeated, so a
// 1 GiB stream needs no 1 GiB buffer. Ends, waits for 'close' and prints one JSON line
// `{ sent, error }` (`error`: the socket's error code, if it had one). Exits 3 after 120 s.
//
//   node stream-writer.mjs <port> <bytes> <block> <seed>
import net from 'node:net';
import { pattern } from '../helpers.mjs';

const [port, bytes, block, seed] = process.argv.slice(2).map(Number);
setTimeout(() => {
  console.error('stream-writer: not done in 120 s');
  process.exit(3);
}, 120_000).unref();

const data = pattern(block, seed);
let sent = 0;
let error = null;
let x = seed;
const c = net.connect({ port, host: '127.0.0.1' });
const pump = () => {
  while (sent < bytes) {
    x = (x * 1103515245 + 12345) >>> 0;
    const at = sent % block;
    const len = Math.min(1 + (x % (256 << 10)), block - at, bytes - sent);
    sent += len;
    if (!c.write(data.subarray(at, at + len))) return void c.once('drain', pump);
  }
  c.end();
};
c.on('connect', pump);
c.on('error', (err) => (error = err.code ?? err.message));
c.on('close', () => console.log(JSON.stringify({ sent, error })));
c.resume();
