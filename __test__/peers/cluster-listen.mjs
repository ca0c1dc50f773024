// node:cluster's path through node:net's listen(), run on a ZerosockHttpServer in a cluster
// worker: `node cluster-listen.mjs <backend>` prints one JSON line from the primary —
// what the worker saw (`thrown`: the code net's listen threw; `emitted`: the 'error' code of
// an exclusive listen, which skips the primary) and how many node:net listeners the primary
// holds afterwards (it opens one for a worker that asks it to: there must be none).
import cluster from 'node:cluster';
import net from 'node:net';
import { ZerosockHttpServer } from 'zerosock';

const tcpListeners = () =>
  process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap').length;

if (cluster.isPrimary) {
  let listening = 0;
  cluster.on('listening', () => listening++);
  const worker = cluster.fork({ ZEROSOCK_BACKEND: process.argv[2] ?? 'auto' });
  worker.once('message', (m) => {
    const result = { ...m, primaryListeners: tcpListeners(), clusterListening: listening };
    worker.process.kill();
    console.log(JSON.stringify(result));
  });
} else {
  const server = new ZerosockHttpServer(() => {});
  const out = { thrown: null, emitted: null, listening: null };
  server.on('error', (err) => (out.emitted = err.code));
  try {
    net.Server.prototype.listen.call(server, 0);
  } catch (err) {
    out.thrown = err.code;
  }
  const exclusive = new ZerosockHttpServer(() => {});
  exclusive.on('error', (err) => (out.emitted = err.code));
  net.Server.prototype.listen.call(exclusive, { port: 0, exclusive: true });
  // Time for a query to reach the primary and for it to bind, had one been sent.
  setTimeout(() => {
    out.listening = server.listening || exclusive.listening;
    process.send(out);
  }, 300);
}
