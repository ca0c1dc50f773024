// A receiving peer for the write-path tests: a server (node:net or zerosock) that hashes what
// each connection sends and reports `{ port, bytes, sha }` once the sender's FIN arrives (port:
// the sender's local port). Runs in this process (`startSink`) or as a child process (this
// file run with `node sink.mjs <net|zerosock> [backend] [behave]`, talking over IPC), so the same
// cases run with the peer in another process. `behave` (node:net sink only) makes it a
// difficult peer: `{ slowMs, everyBytes }` stops reading for `slowMs` after each `everyBytes`
// (a slow reader), `{ resetAfter }` resets the connection (RST) once that many bytes came, and
// reports `{ port, bytes, reset: true }`.
import net from 'node:net';
import { createHash } from 'node:crypto';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createServer, stats } from 'zerosock';

/** Starts the sink server; `report(msg)` gets every finished connection. */
async function listen(kind, backend, report, behave = {}) {
  const live = new Map(); // remote port -> bytes so far
  const track = (port, onChunk) => {
    const h = createHash('sha256');
    let bytes = 0;
    live.set(port, 0);
    return {
      data(d) {
        h.update(d);
        bytes += d.byteLength;
        live.set(port, bytes);
      },
      end() {
        live.delete(port);
        report({ type: 'done', port, bytes, sha: h.digest('hex') });
      },
    };
  };
  if (kind === 'net') {
    const server = net.createServer((s) => {
      const t = track(s.remotePort);
      let since = 0;
      s.on('data', (d) => {
        t.data(d);
        since += d.length;
        if (behave.resetAfter !== undefined && live.get(s.remotePort) >= behave.resetAfter) {
          const port = s.remotePort;
          const bytes = live.get(port);
          live.delete(port);
          report({ type: 'done', port, bytes, reset: true });
          s.resetAndDestroy();
        } else if (behave.slowMs !== undefined && since >= behave.everyBytes) {
          since = 0;
          s.pause();
          setTimeout(() => s.resume(), behave.slowMs);
        }
      });
      s.on('end', () => {
        t.end();
        s.end();
      });
      s.on('error', () => {});
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { port: server.address().port, live, close: () => server.close() };
  }
  const server = createServer({ backend }, (s) => {
    const t = track(s.remotePort);
    s.on('data', (v) => t.data(v));
    s.on('end', () => t.end());
    s.on('error', () => {});
  });
  await server.listen({ port: 0, host: '127.0.0.1' });
  return { port: server.address().port, live, close: () => server.close() };
}

/** Strandedsubmit count of this process's engines. */
function stranded() {
  return Object.values(stats()).reduce((n, s) => n + s.strandedSubmits, 0);
}

/**
 * A sink in this process (`where: 'same'`) or in a child (`'child'`). `done(port)` resolves
 * with that connection's report; `progress(port)` tells bytes received so far (undefined once
 * done or unknown); `stranded()` the peer's strandedSubmits; `close()`.
 */
export async function startSink(kind, backend, where, behave = {}) {
  const waiting = new Map();
  const finished = new Map();
  const onReport = (msg) => {
    const w = waiting.get(msg.port);
    if (w !== undefined) {
      waiting.delete(msg.port);
      w(msg);
    } else finished.set(msg.port, msg);
  };
  const done = (port) =>
    new Promise((resolve) => {
      const f = finished.get(port);
      if (f !== undefined) {
        finished.delete(port);
        resolve(f);
      } else waiting.set(port, resolve);
    });
  if (where === 'same') {
    const s = await listen(kind, backend, onReport, behave);
    return {
      port: s.port,
      done,
      progress: async (port) => s.live.get(port),
      stranded: async () => stranded(),
      close: async () => s.close(),
    };
  }
  const args = [kind, backend ?? 'auto', JSON.stringify(behave)];
  const child = fork(fileURLToPath(import.meta.url), args, {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const asks = [];
  const port = await new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`sink child exited (${code})`)));
    child.on('message', (msg) => {
      if (msg.type === 'listening') resolve(msg.port);
      else if (msg.type === 'done') onReport(msg);
      else if (msg.type === 'answer') asks.shift()?.(msg.value);
    });
  });
  const ask = (q, arg) =>
    new Promise((resolve) => {
      asks.push(resolve);
      child.send({ q, arg });
    });
  return {
    port,
    done,
    progress: (p) => ask('progress', p),
    stranded: () => ask('stranded'),
    close: async () => {
      child.removeAllListeners('exit');
      child.kill();
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  // Never outlive a test that forgot us.
  setTimeout(() => process.exit(3), 600_000).unref();
  const [kind, backend, behave] = process.argv.slice(2);
  const s = await listen(
    kind,
    backend === 'auto' ? undefined : backend,
    (m) => process.send(m),
    JSON.parse(behave ?? '{}'),
  );
  process.on('message', ({ q, arg }) => {
    const value = q === 'progress' ? s.live.get(arg) : stranded();
    process.send({ type: 'answer', value: value ?? null });
  });
  process.on('disconnect', () => process.exit(0));
  process.send({ type: 'listening', port: s.port });
}
