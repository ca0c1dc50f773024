// Run by seccomp.spec.mjs under tools/seccomp-exec (io_uring system calls fail with EPERM).
// With backend 'auto' zerosock must pick epoll (warning once, on stderr) and work: echo with
// SHA-256 checks over 100 connections, a 16 MB stream, an explicit 'io_uring' refused with a
// typed error. Prints one JSON line with what it saw.
import { createHash } from 'node:crypto';
import { connect, createServer, probe, stats } from 'zerosock';

const sha = (b) => createHash('sha256').update(b).digest('hex');
const out = { probe: probe().ioUring, backends: [], ok: 0, streamOk: false, explicit: null };

const server = createServer({ backend: 'auto' }, (s) => {
  s.on('data', (v) => s.send(v));
  s.on('end', () => s.end());
});
await server.listen({ port: 0, host: '127.0.0.1' });
const port = server.address().port;

const one = async (i) => {
  const c = await connect({ port, host: '127.0.0.1' }); // backend 'auto' too
  out.backends.push(c.backend);
  const payload = Buffer.alloc(1 + ((i * 7919) % 50_000), i & 0xff);
  const h = createHash('sha256');
  let n = 0;
  c.on('data', (v) => {
    h.update(v);
    n += v.byteLength;
  });
  const closed = new Promise((r) => c.once('close', r));
  c.send(payload);
  c.end();
  await closed;
  if (n === payload.length && h.digest('hex') === sha(payload)) out.ok++;
};
await Promise.all(Array.from({ length: 100 }, (_, i) => one(i)));

const big = Buffer.alloc(16 << 20);
for (let i = 0; i < big.length; i += 4) big.writeUInt32LE((i * 2654435761) >>> 0, i);
const c = await connect({ port, host: '127.0.0.1' });
const h = createHash('sha256');
let n = 0;
c.on('data', (v) => {
  h.update(v);
  n += v.byteLength;
});
const closed = new Promise((r) => c.once('close', r));
for (let at = 0; at < big.length; at += 1 << 20) {
  if (!c.send(big.subarray(at, at + (1 << 20)))) await new Promise((r) => c.once('drain', r));
}
c.end();
await closed;
out.streamOk = n === big.length && h.digest('hex') === sha(big);

try {
  createServer({ backend: 'io_uring' });
  out.explicit = 'created';
} catch (err) {
  out.explicit = err.code;
}
await server.close();
out.engines = Object.keys(stats());
console.log(JSON.stringify(out));
