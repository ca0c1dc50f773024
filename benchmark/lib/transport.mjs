// The two implementations behind one small surface, for the benchmark workers.
//
// impl: 'net' | 'zerosock-io_uring' | 'zerosock-epoll'
// variant (zerosock): 'cork' (defaults: auto-cork, adaptive busy polling up to 50 µs) |
//                    'nocork' (cork: false) | 'nobusy' (busyPollUs: 0: the loop always sleeps)
// variant (net):      'write' (write() per message, noDelay) | 'cork' (cork() … uncork() per tick)
//
// Over TCP on 127.0.0.1, or over a Unix domain socket path (listen/connect `path`): node:net's
// setNoDelay is a no-op on a pipe, zerosock sets TCP_NODELAY only on TCP sockets.
//
// Every socket is wrapped as { sock, send(bytes) -> boolean, drain() -> Promise, end(), stats() }
// so the per-message path costs one extra closure call on both sides alike.
import net from 'node:net';
import { once } from 'node:events';
import { connect as zsConnect, createServer as zsCreateServer } from 'zerosock';

export const isZerosock = (impl) => impl.startsWith('zerosock-');
export const backendOf = (impl) => impl.slice('zerosock-'.length);

function zerosockOptions(impl, variant) {
  return {
    backend: backendOf(impl),
    ...(variant === 'nocork' ? { cork: false } : {}),
    ...(variant === 'nobusy' ? { busyPollUs: 0 } : {}),
  };
}

/** Wraps a connected socket of either implementation. */
export function wrap(impl, sock) {
  if (isZerosock(impl)) {
    return {
      sock,
      send: (b) => sock.send(b),
      drain: () => once(sock, 'drain'),
      end: () => sock.end(),
      stats: () => sock.stats(),
    };
  }
  sock.setNoDelay(true);
  return {
    sock,
    send: (b) => sock.write(b),
    drain: () => once(sock, 'drain'),
    end: () => sock.end(),
    stats: () => ({ bytesSent: sock.bytesWritten, bytesReceived: sock.bytesRead }),
  };
}

/**
 * Listens on 127.0.0.1 (port 0), or on the Unix socket `path` when one is given;
 * `onConnection(wrapped)` for each accepted socket. Resolves with { port, path, close(), raw }
 * (port null over a Unix socket). Both implementations remove their socket file on close.
 */
export async function listen(impl, variant, onConnection, { backlog = 4096, path } = {}) {
  const where = path !== undefined ? { path, backlog } : { port: 0, host: '127.0.0.1', backlog };
  if (isZerosock(impl)) {
    const server = zsCreateServer(zerosockOptions(impl, variant), (s) =>
      onConnection(wrap(impl, s)),
    );
    await server.listen(where);
    return {
      port: path !== undefined ? null : server.address().port,
      path: path ?? null,
      raw: server,
      close: () => {
        server.closeAllConnections();
        return server.close();
      },
    };
  }
  const server = net.createServer({ noDelay: true }, (s) => onConnection(wrap(impl, s)));
  const sockets = new Set();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.listen(where);
  await once(server, 'listening');
  return {
    port: path !== undefined ? null : server.address().port,
    path: path ?? null,
    raw: server,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * Connects to `target`: { port } (on 127.0.0.1) or { path } (a Unix socket); resolves with the
 * wrapped socket.
 */
export async function connect(impl, variant, target) {
  const where =
    target.path !== undefined ? { path: target.path } : { port: target.port, host: '127.0.0.1' };
  if (isZerosock(impl)) {
    const s = await zsConnect({ ...where, ...zerosockOptions(impl, variant) });
    return wrap(impl, s);
  }
  const s = net.connect({ ...where, noDelay: true });
  await once(s, 'connect');
  return wrap(impl, s);
}

/** Connects `n` sockets, at most `parallel` connects in flight. */
export async function connectMany(impl, variant, target, n, parallel = 200) {
  const out = new Array(n);
  let next = 0;
  const lane = async () => {
    while (next < n) {
      const i = next++;
      out[i] = await connect(impl, variant, target);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, n) }, lane));
  return out;
}
