// A node:net client in its own process that writes a stream one message at a time: it waits for
// the server's one-byte ack of each message before the next (so each arrives as its own
// receive), then reads what the server sends back until its FIN and prints one JSON line
// `{ acks, echoed, sha }` (SHA-256 of what came back after the acks). Exits 3 after 60 s.
//
//   node stepwise-writer.mjs <port> <seed> <count>x<size> [<count>x<size> ...]
import { createHash } from 'node:crypto';
import net from 'node:net';
import { pattern } from '../helpers.mjs';

const [port, seed, ...phases] = process.argv.slice(2);
const sizes = phases.flatMap((p) => {
  const [count, size] = p.split('x').map(Number);
  return Array.from({ length: count }, () => size);
});
const total = sizes.reduce((a, b) => a + b, 0);
const stream = pattern(total, Number(seed));
setTimeout(() => {
  console.error('stepwise-writer: not done in 60 s');
  process.exit(3);
}, 60_000).unref();

const sock = net.connect({ port: Number(port), host: '127.0.0.1' });
sock.setNoDelay(true);
const hash = createHash('sha256');
let next = 0;
let at = 0;
let acks = 0;
let echoed = 0;
const writeNext = () => {
  const n = sizes[next++];
  sock.write(stream.subarray(at, at + n));
  at += n;
};
sock.on('connect', writeNext);
sock.on('data', (d) => {
  let off = 0;
  while (acks < sizes.length && off < d.length) {
    off++;
    acks++;
    if (next < sizes.length) writeNext();
  }
  if (off < d.length) {
    hash.update(d.subarray(off));
    echoed += d.length - off;
  }
});
sock.on('end', () => {
  console.log(JSON.stringify({ acks, echoed, sha: hash.digest('hex') }));
  sock.end();
});
sock.on('error', (err) => {
  console.error(`stepwise-writer: ${err.code ?? err.message}`);
  process.exit(2);
});
