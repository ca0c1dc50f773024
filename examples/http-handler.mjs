// The request handler shared by examples/http.mjs (zerosock) and examples/http-node.mjs.
//   GET  /          → "hello world"
//   GET  /bytes/N   → N bytes (streamed in 64 KiB chunks)
//   POST /sha256    → SHA-256 of the request body (any size, chunked or not)
import { createHash } from 'node:crypto';

const CHUNK = Buffer.alloc(64 * 1024, 'z');

export function handler(req, res) {
  if (req.method === 'POST' && req.url === '/sha256') {
    const h = createHash('sha256');
    let n = 0;
    req.on('data', (c) => {
      h.update(c);
      n += c.length;
    });
    req.on('end', () => res.end(`${h.digest('hex')} ${n}\n`));
    return;
  }
  const m = /^\/bytes\/(\d+)$/.exec(req.url ?? '');
  if (m) {
    let left = Number(m[1]);
    res.setHeader('content-length', left);
    const pump = () => {
      while (left > 0) {
        const n = Math.min(left, CHUNK.length);
        left -= n;
        if (!res.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))) {
          return void res.once('drain', pump);
        }
      }
      res.end();
    };
    pump();
    return;
  }
  res.setHeader('content-type', 'text/plain');
  res.end('hello world\n');
}
