// Helpers of the fault-injection tests: resource baselines (fds, pool buffers, open sockets),
// bounded settling of promises, peer processes, and env-tunable figures.
import { spawn } from 'node:child_process';
import { once as onceEvent } from 'node:events';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { connect, createServer, stats } from 'zerosock';
import { fdCount, until } from './helpers.mjs';

export const PEER = fileURLToPath(new URL('./faults-peer.mjs', import.meta.url));

/** An integer from the environment (for longer local runs), else `fallback`. */
export function envInt(name, fallback) {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer`);
  return n;
}

/** Starts `backend`'s engine (engines are per process and made lazily) so baselines include it. */
export async function warmUp(backend) {
  const server = createServer({ backend }, (s) => {
    s.on('data', (v) => s.send(v));
    s.on('end', () => s.end());
  });
  await server.listen({ port: 0, host: '127.0.0.1' });
  const c = await connect({ port: server.address().port, host: '127.0.0.1', backend });
  c.resume();
  const closed = new Promise((r) => c.once('close', r));
  c.end('warm');
  await closed;
  await server.close();
}

/** What must come back after a fault: open fds, pool buffers out, engine sockets open. */
export function snapshot(backend) {
  const s = stats()[backend];
  return { fds: fdCount(), poolInUse: s.poolInUse, openSockets: s.openSockets };
}

/** Waits (bounded) until `snapshot(backend)` equals `base`, then asserts it field by field. */
export async function backToBaseline(t, backend, base, ms = 15_000) {
  const same = () => {
    const now = snapshot(backend);
    return (
      now.fds === base.fds &&
      now.poolInUse === base.poolInUse &&
      now.openSockets === base.openSockets
    );
  };
  await until(same, ms, 20).catch(() => {});
  const now = snapshot(backend);
  t.is(now.fds, base.fds, 'no fd leak (/proc/self/fd)');
  t.is(now.poolInUse, base.poolInUse, 'pool buffers back to baseline');
  t.is(now.openSockets, base.openSockets, 'engine sockets back to baseline');
}

/**
 * Resolves with the settled results once every promise has settled; rejects naming how many
 * are still pending after `ms` (a lost completion shows up here).
 */
export async function settleAll(promises, ms, what = 'promises') {
  let done = 0;
  const tracked = promises.map((p) =>
    Promise.resolve(p).then(
      (value) => {
        done++;
        return { status: 'fulfilled', value };
      },
      (reason) => {
        done++;
        return { status: 'rejected', reason };
      },
    ),
  );
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(
      () =>
        reject(new Error(`${promises.length - done} of ${promises.length} ${what} never settled`)),
      ms,
    );
  });
  try {
    return await Promise.race([Promise.all(tracked), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves on the first of `events` from `emitter` (with its name and arguments). */
export function first(emitter, events) {
  return new Promise((resolve) => {
    const fns = events.map((name) => {
      const fn = (...args) => {
        events.forEach((n, i) => emitter.off(n, fns[i]));
        resolve({ name, args });
      };
      emitter.on(name, fn);
      return fn;
    });
  });
}

/** Promise of a socket's 'close', with the first error it emitted (if any). */
export function closeOf(sock) {
  let error = null;
  sock.on('error', (err) => {
    error ??= err;
  });
  return new Promise((resolve) => sock.once('close', () => resolve({ error })));
}

/** A port nothing listens on (bound once, then closed). */
export async function closedPort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

/**
 * Runs faults-peer.mjs in a child process. `messages` collects its JSON lines; `next(pred)`
 * waits for a matching one. The child is killed when the test ends if still alive.
 */
export function peer(t, args, opts = {}) {
  const child = spawn(process.execPath, [PEER, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...opts.env },
  });
  const messages = [];
  const waiters = [];
  let buf = '';
  let stderr = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d) => {
    buf += d;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!line.startsWith('{')) continue;
      const msg = JSON.parse(line);
      messages.push(msg);
      for (const w of [...waiters]) {
        if (w.pred(msg)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(msg);
        }
      }
    }
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => (stderr += d));
  const exited = onceEvent(child, 'exit').then(([code, signal]) => ({ code, signal }));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return {
    child,
    messages,
    exited,
    get stderr() {
      return stderr;
    },
    next(pred, ms = 30_000) {
      const found = messages.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        // The timer is cleared on a match: a pending one would keep the test process alive.
        const timer = setTimeout(() => {
          const i = waiters.indexOf(w);
          if (i < 0) return;
          waiters.splice(i, 1);
          reject(new Error(`peer sent no expected message in ${ms} ms; stderr: ${stderr}`));
        }, ms);
        const w = {
          pred,
          resolve: (msg) => {
            clearTimeout(timer);
            resolve(msg);
          },
        };
        waiters.push(w);
      });
    },
  };
}

/** Sends `chunk` on a zerosock socket until `stop()` or the socket dies; honours 'drain'. */
export async function pump(sock, chunk, stop = () => false) {
  let sent = 0;
  while (!stop() && !sock.destroyed && !sock.writableEnded) {
    let more;
    try {
      more = sock.send(chunk);
    } catch (err) {
      if (err.code === 'ERR_ZEROSOCK_SOCKET_CLOSED') break;
      throw err;
    }
    sent += chunk.length;
    if (!more) {
      if (sock.destroyed) break;
      const ev = await first(sock, ['drain', 'close']);
      if (ev.name === 'close') break;
    } else if (sent % (8 * chunk.length) === 0) {
      await new Promise((r) => setImmediate(r));
    }
  }
  return sent;
}
