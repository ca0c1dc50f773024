// HTTP/1.1 server on zerosock: node:http parses and answers, zerosock moves the bytes.
// Its node:http twin is examples/http-node.mjs — same handler, for comparison.
//
//   node examples/http.mjs [--port 8080] [--workers 2]
//   curl -s http://127.0.0.1:8080/hello
import { workerData } from 'node:worker_threads';
import { createHttpServer, serveInWorker, startWorkers, workerIndex } from 'zerosock';
import { handler } from './http-handler.mjs';

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};

if (workerIndex() >= 0) {
  const server = createHttpServer(handler);
  await server.listen({ port: workerData.port, host: '127.0.0.1', reusePort: true });
  serveInWorker(server);
} else {
  const port = Number(arg('port', 8080));
  const workers = Number(arg('workers', 0));
  let close;
  if (workers > 0) {
    const group = await startWorkers(new URL(import.meta.url), { workers, workerData: { port } });
    console.log(`http (zerosock): ${workers} workers on http://127.0.0.1:${group.port}/`);
    close = () => group.close({ timeoutMs: 2_000 });
  } else {
    const server = createHttpServer(handler, { http: { keepAliveTimeout: 5_000 } });
    await server.listen({ port, host: '127.0.0.1' });
    console.log(`http (zerosock): http://127.0.0.1:${server.address().port}/`);
    close = () => server.close({ timeoutMs: 2_000 });
  }
  const stop = () => close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
