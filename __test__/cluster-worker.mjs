// Worker module of cluster.spec.mjs: an echo (or HTTP) server on a shared port (SO_REUSEPORT)
// that counts its connections, and a BufferPool receiver that releases buffers owned by the
// main thread (deferred frees).
import { createHash } from 'node:crypto';
import { parentPort, threadId, workerData } from 'node:worker_threads';
import {
  BufferPool,
  createHttpServer,
  createServer,
  serveInWorker,
  stats,
  workerIndex,
} from 'zerosock';

const { port, backend, mode = 'echo' } = workerData;
let accepted = 0;
let server;
if (mode === 'http') {
  server = createHttpServer((req, res) => res.end(`worker ${workerIndex()} ${req.url}`), {
    backend,
  });
  server.server.on('connection', () => accepted++);
} else {
  server = createServer({ backend }, (sock) => {
    accepted++;
    sock.on('data', (v) => sock.send(v));
    sock.on('end', () => sock.end());
    sock.on('error', () => {});
  });
}
await server.listen({ port, host: '127.0.0.1', reusePort: true });

parentPort.on('message', (m) => {
  if (m?.type !== 'buffer') return;
  // A pool buffer of the main thread: read it, then release it here (a deferred free).
  const pool = BufferPool.attach(m.token.poolId);
  const view = pool.fromToken(m.token);
  const sha = createHash('sha256').update(view).digest('hex');
  pool.release(view);
  parentPort.postMessage({ type: 'buffer-done', id: m.id, sha, deferred: pool.stats().deferred });
});

serveInWorker(server, {
  report: () => ({
    index: workerIndex(),
    threadId,
    mode,
    accepted,
    openSockets: Object.values(stats()).reduce((n, s) => n + s.openSockets, 0),
  }),
});
