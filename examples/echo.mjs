// Echo server on zerosock: every byte received is sent back.
//
//   node examples/echo.mjs [--port 7000] [--workers 2]
//
// With --workers N, N worker_threads each run their own engine and listener on the same port
// (SO_REUSEPORT), and the kernel spreads connections over them. Try: `nc 127.0.0.1 7000`.
import { workerData } from 'node:worker_threads';
import { createServer, serveInWorker, startWorkers, workerIndex } from 'zerosock';

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};

/** One echo listener (in this thread or in a worker). */
async function serve(port, reusePort) {
  const server = createServer((sock) => {
    // The view is pool memory lent for this callback; send() copies it, so echoing is safe.
    sock.on('data', (view) => sock.send(view));
    sock.on('end', () => sock.end());
    sock.on('error', () => sock.destroy());
  });
  await server.listen({ port, host: '127.0.0.1', reusePort });
  return server;
}

if (workerIndex() >= 0) {
  // In a worker started below.
  const server = await serve(workerData.port, true);
  serveInWorker(server);
} else {
  const port = Number(arg('port', 7000));
  const workers = Number(arg('workers', 0));
  if (workers > 0) {
    const group = await startWorkers(new URL(import.meta.url), { workers, workerData: { port } });
    console.log(`echo: ${workers} workers on 127.0.0.1:${group.port} (SO_REUSEPORT)`);
    process.once('SIGINT', () => group.close({ timeoutMs: 2_000 }).then(() => process.exit(0)));
    process.once('SIGTERM', () => group.close({ timeoutMs: 2_000 }).then(() => process.exit(0)));
  } else {
    const server = await serve(port, false);
    console.log(`echo: listening on 127.0.0.1:${server.address().port}`);
    const stop = () => {
      server.closeAllConnections();
      server.close().then(() => process.exit(0));
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  }
}
