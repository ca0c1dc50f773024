// A static file server: HTTP/1.1 with keep-alive and pipelining, GET and HEAD, `Range:
// bytes=a-b` (206), on zerosock's raw sockets — no node:http. Request heads are parsed in JS
// (examples/lib/http-head.mjs, split across reads anywhere); a response is its head, sent with
// `sock.send()`, then the file with `await sock.sendFile(path, { offset, length })`: the kernel
// moves the bytes (epoll: sendfile(2), io_uring: splice), they never enter JS. `--net` runs the
// node:net twin: the same parser and answers, the head with `socket.write()`, the file with
// `fs.createReadStream(path).pipe(socket, { end: false })`.
//
//   node examples/static-file-server.mjs [--port 8080] [--root DIR] [--backend epoll] [--net]
//   curl -s http://127.0.0.1:8080/README.md
//   curl -s -r 0-99 http://127.0.0.1:8080/README.md
//
// Paths are resolved under --root (default: the current directory); one that resolves outside
// it is 403, a missing one 404, a directory serves its index.html. A symbolic link is followed
// only while it stays under --root (else 403).
// Methods other than GET and HEAD get 405, a head that does not parse 400 (and the connection
// closes: it cannot be framed any more). Connections idle for --idle ms (default 5000) close.
import fs from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createServer, probe } from 'zerosock';
import { RequestHeadParser, STATUS, parseRange, responseHead } from './lib/http-head.mjs';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.md': 'text/markdown; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
  '.pdf': 'application/pdf',
  '.mp4': 'video/mp4',
};
/** Pipelined requests waiting for their turn before the connection stops reading. */
const MAX_QUEUED = 32;

/** A short text answer (errors); `close` closes the connection after it. */
function textAnswer(status, req, extra = {}, close = false) {
  const body = `${status} ${STATUS[status]}\n`;
  return {
    status,
    headers: {
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Length': Buffer.byteLength(body),
      ...extra,
    },
    body: req?.method === 'HEAD' ? undefined : body,
    close: close || req?.keepAlive === false,
  };
}

/** The path of a request target (origin or absolute form), percent-decoded; null if bad. */
function targetPath(target) {
  let p = target;
  if (!p.startsWith('/')) {
    const m = /^https?:\/\/[^/?#]*/i.exec(p); // absolute form: drop the scheme and authority
    if (m === null) return null;
    p = p.slice(m[0].length) || '/';
    if (!p.startsWith('/')) return null;
  }
  const q = p.search(/[?#]/);
  if (q >= 0) p = p.slice(0, q);
  try {
    p = decodeURIComponent(p);
  } catch {
    return null; // malformed %-escape
  }
  return p.includes('\0') ? null : p;
}

/** Whether `full` is `root` or inside it. */
function under(root, full) {
  return full === root || full.startsWith(root.endsWith(path.sep) ? root : root + path.sep);
}

/** The file (stats) at `full`, its index.html for a directory; or the status to answer. */
async function findFile(full) {
  try {
    let st = await stat(full);
    if (st.isDirectory()) {
      full = path.join(full, 'index.html');
      st = await stat(full);
    }
    return st.isFile() ? { full, st } : { status: 404 };
  } catch (err) {
    if (['ENOENT', 'ENOTDIR', 'ENAMETOOLONG', 'ELOOP'].includes(err.code)) return { status: 404 };
    if (err.code === 'EACCES' || err.code === 'EPERM') return { status: 403 };
    return { status: 500 };
  }
}

/**
 * What to answer to `req` (a parsed head or a parse error): `{ status, headers, body?, file?,
 * offset, length, close }`. Shared by both servers; only the sending differs.
 */
export async function answer(req, root) {
  if (req.error !== undefined) return textAnswer(req.error, null, { Connection: 'close' }, true);
  const connection = !req.keepAlive
    ? 'close'
    : req.version === 'HTTP/1.0'
      ? 'keep-alive'
      : undefined;
  const headers = { Connection: connection };
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    return textAnswer(405, req, { Allow: 'GET, HEAD', ...headers });
  }
  const p = targetPath(req.target);
  if (p === null) return textAnswer(400, req, headers);
  const full = path.join(root, p); // normalises '..' away: the prefix check below is exact
  if (!under(root, full)) return textAnswer(403, req, headers);
  const found = await findFile(full);
  if (found.status !== undefined) return textAnswer(found.status, req, headers);
  // a symbolic link may lead out of the root (the root itself was resolved at start)
  if (!under(root, await realpath(found.full).catch(() => ''))) {
    return textAnswer(403, req, headers);
  }
  const { size, mtime } = found.st;
  const lastModified = mtime.toUTCString();
  let range = parseRange(req.headers.range, size);
  const ifRange = req.headers['if-range'];
  if (ifRange !== undefined && ifRange !== lastModified) range = null; // changed: whole file
  if (range === 'unsatisfiable') {
    return textAnswer(416, req, { 'Content-Range': `bytes */${size}`, ...headers });
  }
  const offset = range === null ? 0 : range.start;
  const length = range === null ? size : range.end - range.start + 1;
  return {
    status: range === null ? 200 : 206,
    headers: {
      'Content-Type': TYPES[path.extname(found.full).toLowerCase()] ?? 'application/octet-stream',
      'Content-Length': length,
      'Content-Range': range === null ? undefined : `bytes ${range.start}-${range.end}/${size}`,
      'Accept-Ranges': 'bytes',
      'Last-Modified': lastModified,
      ...headers,
    },
    file: req.method === 'GET' && length > 0 ? found.full : undefined,
    offset,
    length,
    close: !req.keepAlive,
  };
}

/** Resolves on the socket's next 'drain'; rejects if it is closed or closes first. */
function drained(sock) {
  return new Promise((resolve, reject) => {
    if (sock.destroyed) return reject(new Error('closed'));
    const onDrain = () => (sock.off('close', onClose), resolve());
    const onClose = () => (sock.off('drain', onDrain), reject(new Error('closed')));
    sock.once('drain', onDrain);
    sock.once('close', onClose);
  });
}

/**
 * One connection's requests, answered one after the other in arrival order (pipelining).
 * `io` is what differs between the servers: `head(string)` and `body(file, offset, length)`
 * (both promises), `pause()`, `resume()`, `end()`, `destroy()`.
 */
class Connection {
  constructor(io, root) {
    this.io = io;
    this.root = root;
    this.parser = new RequestHeadParser();
    this.queue = [];
    this.busy = false;
    this.paused = false;
    this.closing = false; // the last answer is decided: read nothing more, end when it is out
    this.peerEnded = false;
    this.lastActive = Date.now();
  }

  onData(bytes) {
    if (this.closing) return;
    this.lastActive = Date.now();
    for (const req of this.parser.feed(bytes)) this.queue.push(req);
    if (this.queue.length > MAX_QUEUED && !this.paused) {
      this.paused = true;
      this.io.pause(); // a client that pipelines without reading is pushed back by TCP
    }
    if (!this.busy) this.run();
  }

  onEnd() {
    this.peerEnded = true;
    if (!this.busy) this.run();
  }

  /** True when nothing is being answered and the idle timeout has passed. */
  idle(now, ms) {
    return !this.busy && now - this.lastActive > ms;
  }

  async run() {
    this.busy = true;
    try {
      while (this.queue.length > 0 && !this.closing) {
        const res = await answer(this.queue.shift(), this.root);
        if (res.close) this.closing = true;
        await this.io.head(responseHead(res.status, res.headers) + (res.body ?? ''));
        if (res.file !== undefined) await this.io.body(res.file, res.offset, res.length);
        if (this.paused && this.queue.length <= MAX_QUEUED / 2) {
          this.paused = false;
          this.io.resume();
        }
      }
    } catch {
      // The client went away mid-answer (sendFile or the stream rejected), or the file did.
      this.closing = true;
      this.io.destroy();
      return;
    } finally {
      this.busy = false;
      this.lastActive = Date.now();
    }
    if (this.closing || this.peerEnded) {
      this.closing = true;
      this.io.end();
    }
  }
}

/** Starts the server; resolves `{ port, close() }`. */
export async function startStaticFileServer({
  port = 0,
  host = '127.0.0.1',
  root = process.cwd(),
  lib = 'zerosock',
  backend = 'auto',
  idleMs = 5_000,
}) {
  root = fs.realpathSync(path.resolve(root));
  const open = new Set();
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const c of open) if (c.idle(now, idleMs)) c.io.destroy();
  }, 1_000).unref();

  if (lib === 'net') {
    const sockets = new Set();
    const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
      const c = new Connection(
        {
          head: async (head) => {
            if (!socket.write(head)) await drained(socket);
          },
          body: async (file, offset, length) => {
            const rs = fs.createReadStream(file, { start: offset, end: offset + length - 1 });
            const abort = () => rs.destroy(); // pipe() leaves its source paused when dest closes
            socket.once('close', abort);
            rs.pipe(socket, { end: false });
            try {
              await finished(rs);
            } finally {
              socket.off('close', abort);
            }
          },
          pause: () => socket.pause(),
          resume: () => socket.resume(),
          end: () => socket.end(),
          destroy: () => socket.destroy(),
        },
        root,
      );
      open.add(c);
      sockets.add(socket);
      socket.on('data', (d) => c.onData(d));
      socket.on('end', () => c.onEnd());
      socket.on('error', () => socket.destroy());
      socket.on('close', () => (open.delete(c), sockets.delete(socket)));
    });
    await new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, resolve);
    });
    return {
      port: server.address().port,
      close: () => {
        clearInterval(sweep);
        for (const s of sockets) s.destroy();
        return new Promise((r) => server.close(r));
      },
    };
  }

  const server = createServer({ backend, allowHalfOpen: true }, (sock) => {
    const c = new Connection(
      {
        head: async (head) => {
          if (!sock.send(head)) await drained(sock);
        },
        body: (file, offset, length) => sock.sendFile(file, { offset, length }),
        pause: () => sock.pause(),
        resume: () => sock.resume(),
        end: () => sock.end(),
        destroy: () => sock.destroy(),
      },
      root,
    );
    open.add(c);
    sock.on('data', (view) => c.onData(view)); // parsed during the callback: views are borrowed
    sock.on('end', () => c.onEnd());
    sock.on('error', () => sock.destroy());
    sock.on('close', () => open.delete(c));
  });
  await server.listen({ port, host });
  return {
    port: server.address().port,
    backend: backend === 'auto' ? probe().backend : backend,
    close: async () => {
      clearInterval(sweep);
      server.closeAllConnections();
      await server.close();
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values: a } = parseArgs({
    options: {
      port: { type: 'string', default: '8080' },
      host: { type: 'string', default: '127.0.0.1' },
      root: { type: 'string', default: process.cwd() },
      backend: { type: 'string', default: 'auto' }, // or ZEROSOCK_BACKEND
      idle: { type: 'string', default: '5000' },
      net: { type: 'boolean', default: false },
    },
  });
  const lib = a.net ? 'net' : 'zerosock';
  const s = await startStaticFileServer({
    port: Number(a.port),
    host: a.host,
    root: a.root,
    lib,
    backend: a.backend,
    idleMs: Number(a.idle),
  });
  const what =
    lib === 'net' ? 'node:net createReadStream().pipe()' : `zerosock sendFile(), ${s.backend}`;
  console.log(`static files (${what}) on http://${a.host}:${s.port}/ from ${path.resolve(a.root)}`);
  process.send?.({ port: s.port });
  const stop = () => s.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
