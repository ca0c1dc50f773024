// The workload of .ci/leakcheck.sh: every native path of zerosock a round at a time — echo
// over many connections with small (corked) and large sends, strings, retain/release,
// pause/resume, sendZeroCopy, a peer reset mid-stream, destroy with data in flight, a server
// closed with connections open, connect refused — plus BufferPool, SpscRing and probe().
// `node [--expose-gc] .ci/leak-workload.mjs <backend> <rounds>` prints one JSON line: the
// engine's counters at the end and RSS (after a GC) at 10 %, 50 % and 100 % of the rounds, so
// a leak (growth that goes on) can be told from warm-up (growth that stops).
import net from 'node:net';
import { BufferPool, connect, createServer, probe, SpscRing, stats } from 'zerosock';

const backend = process.argv[2] ?? 'epoll';
const rounds = Number(process.argv[3] ?? 1);
const CONNS = Number(process.env.ZEROSOCK_LEAK_CONNS ?? 16);

const closed = (s) => new Promise((resolve) => s.once('close', resolve));

async function echoRound() {
  const server = createServer({ backend }, (s) => {
    s.on('data', (v) => s.send(v));
    s.on('end', () => s.end());
    s.on('error', () => {});
  });
  await server.listen({ port: 0, host: '127.0.0.1' });
  const port = server.address().port;
  await Promise.all(
    Array.from({ length: CONNS }, async (_, i) => {
      const c = await connect({ port, host: '127.0.0.1', backend });
      let got = 0;
      let kept = null;
      c.on('data', (v) => {
        got += v.byteLength;
        if (kept === null && i % 3 === 0) kept = c.retain(v);
        if (i % 4 === 1) {
          c.pause();
          setImmediate(() => c.resume());
        }
      });
      const done = closed(c);
      for (let k = 0; k < 20; k++) c.send(`small ${k} `); // corked
      c.send(Buffer.alloc(1 + i * 9000, i)); // large: sendCopy
      if (typeof c.sendZeroCopy === 'function') await c.sendZeroCopy(Buffer.alloc(64 * 1024, 7));
      c.end();
      await done;
      if (kept !== null) c.release(kept);
      return got;
    }),
  );
  // Destroy with data in flight, and a server closed with connections open.
  const a = await connect({ port, host: '127.0.0.1', backend });
  a.on('error', () => {});
  a.on('data', () => {});
  a.send(Buffer.alloc(1 << 20, 1));
  a.destroy();
  const b = await connect({ port, host: '127.0.0.1', backend });
  b.on('error', () => {});
  b.on('data', () => {});
  b.send(Buffer.alloc(256 * 1024, 2));
  const bClosed = closed(b);
  server.closeAllConnections();
  await server.close();
  await bClosed;
  // Connect refused.
  await connect({ port, host: '127.0.0.1', backend }).catch(() => {});
}

async function resetRound() {
  const peer = net.createServer((s) => {
    s.on('error', () => {});
    s.once('data', () => s.resetAndDestroy());
  });
  await new Promise((r) => peer.listen(0, '127.0.0.1', r));
  const c = await connect({ port: peer.address().port, host: '127.0.0.1', backend });
  c.on('error', () => {});
  const done = closed(c);
  c.send(Buffer.alloc(512 * 1024, 3));
  await done;
  await new Promise((r) => peer.close(r));
}

function poolAndRing() {
  const pool = new BufferPool({ size: 4096, count: 8, maxCount: 16 });
  const views = Array.from({ length: 12 }, () => pool.acquire());
  for (const v of views) pool.release(v);
  const ring = new SpscRing(4096);
  for (let i = 0; i < 100; i++) {
    ring.push(new Uint8Array(i));
    ring.pop();
  }
  probe();
}

/** RSS after a full GC (when --expose-gc is on), so garbage is not counted as growth. */
function rss() {
  globalThis.gc?.();
  return process.memoryUsage().rss;
}

const samples = [];
for (let r = 0; r < rounds; r++) {
  await echoRound();
  await resetRound();
  poolAndRing();
  if (r === Math.floor(rounds / 10) || r === Math.floor(rounds / 2) || r === rounds - 1) {
    await new Promise((res) => setTimeout(res, 20));
    samples.push({ round: r + 1, rss: rss() });
  }
}
await new Promise((r) => setTimeout(r, 100));
const s = stats()[backend];
console.log(
  JSON.stringify({
    backend: s.backend,
    rounds,
    openSockets: s.openSockets,
    poolInUse: s.poolInUse,
    accepted: s.accepted,
    rss: samples,
  }),
);
