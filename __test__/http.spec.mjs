// node:http over zerosock (`sock.toDuplex()` / createHttpServer) on every backend: keep-alive,
// pipelining (raw and undici), 10 MB chunked bodies both ways, timeouts, graceful close, and a
// node:http client over a zerosock client socket.
import test from 'ava';
import http from 'node:http';
import net from 'node:net';
import { Client } from 'undici';
import { connect, createHttpServer, createServer } from 'zerosock';
import { backends, once, pattern, sha256, until, within } from './helpers.mjs';

const host = '127.0.0.1';
const hex = (b) => sha256().update(b).digest('hex');

/** 64 response bodies of 0..~8 KB, known to both sides. */
const BODIES = Array.from({ length: 64 }, (_, i) => pattern((i * 131) % 8000, i + 1));
const BODY_SHA = BODIES.map(hex);

/** Handler: `/body/<i>` answers BODIES[i % 64] and the SHA-256 of the request body it got. */
function bodyHandler(req, res) {
  const h = sha256();
  let n = 0;
  req.on('data', (c) => {
    h.update(c);
    n += c.length;
  });
  req.on('end', () => {
    const i = Number(req.url.split('/')[2]) % BODIES.length;
    res.setHeader('x-request-sha256', h.digest('hex'));
    res.setHeader('x-request-bytes', String(n));
    res.setHeader('x-seq', req.headers['x-seq'] ?? '');
    res.setHeader('content-length', BODIES[i].length);
    res.end(BODIES[i]);
  });
}

async function listen(t, backend, handler, options = {}) {
  const server = createHttpServer(handler, { backend, ...options });
  await server.listen({ port: 0, host });
  t.teardown(() => {
    server.closeAllConnections();
    return server.close();
  });
  return server;
}

function request(opts, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(opts, (res) => {
      const h = sha256();
      let n = 0;
      res.on('data', (c) => {
        h.update(c);
        n += c.length;
      });
      res.on('end', () => resolve({ res, sha: h.digest('hex'), bytes: n }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

for (const backend of backends) {
  test(`${backend}: 10 000 keep-alive requests from node:http, body checksums both ways`, async (t) => {
    const server = await listen(t, backend, bodyHandler);
    let connections = 0;
    server.server.on('connection', () => connections++);
    const port = server.address().port;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    const N = 10_000;
    let ok = 0;
    let next = 0;
    await within(
      Promise.all(
        Array.from({ length: 8 }, async () => {
          while (next < N) {
            const i = next++;
            const reqBody = BODIES[(i * 7) % BODIES.length];
            const { res, sha, bytes } = await request(
              { host, port, agent, method: 'POST', path: `/body/${i}` },
              reqBody,
            );
            if (
              res.statusCode === 200 &&
              sha === BODY_SHA[i % BODIES.length] &&
              bytes === BODIES[i % BODIES.length].length &&
              res.headers['x-request-sha256'] === BODY_SHA[(i * 7) % BODIES.length]
            ) {
              ok++;
            }
          }
        }),
      ),
      50_000,
      '10 000 requests',
    );
    t.is(ok, N);
    t.true(connections <= 8, `keep-alive reused connections (${connections} opened)`);
    agent.destroy();
    await within(server.close(), 10_000, 'close');
    t.is(server.connections, 0);
  });

  test(`${backend}: 500 pipelined requests in one write from a raw client, answered in order`, async (t) => {
    let inFlight = 0;
    let maxInFlight = 0;
    const server = await listen(t, backend, (req, res) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      res.on('finish', () => inFlight--);
      // Answer out of order in time; node:http must still send the responses in order.
      const delay = Number(req.headers['x-seq']) % 3;
      setTimeout(() => bodyHandler(req, res), delay);
    });
    const N = 500;
    let wire = '';
    for (let i = 0; i < N; i++) {
      if (i % 2 === 0) {
        wire += `GET /body/${i} HTTP/1.1\r\nHost: x\r\nx-seq: ${i}\r\n\r\n`;
      } else {
        const b = `request ${i} `.repeat(i % 40);
        wire += `POST /body/${i} HTTP/1.1\r\nHost: x\r\nx-seq: ${i}\r\ncontent-length: ${b.length}\r\n\r\n${b}`;
      }
    }
    const c = net.connect(server.address().port, host);
    c.write(wire);
    const responses = await within(readResponses(c, N), 30_000, 'pipelined responses');
    t.is(responses.length, N);
    let ok = 0;
    responses.forEach((r, i) => {
      if (r.status === 200 && r.headers['x-seq'] === String(i) && hex(r.body) === BODY_SHA[i % 64])
        ok++;
    });
    t.is(ok, N, 'every response in order with the right body');
    t.true(maxInFlight > 1, `requests were in flight together (max ${maxInFlight})`);
    c.end();
    await within(server.close(), 10_000, 'close');
  });

  test(`${backend}: undici with pipelining 16: 2 000 requests, checksums`, async (t) => {
    let maxInFlight = 0;
    let inFlight = 0;
    const server = await listen(t, backend, (req, res) => {
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      res.on('finish', () => inFlight--);
      setImmediate(() => bodyHandler(req, res));
    });
    const client = new Client(`http://${host}:${server.address().port}`, { pipelining: 16 });
    const N = 2000;
    // Requests with a body wait for the pipeline to empty (undici's rule); GETs are pipelined.
    const results = await within(
      Promise.all(
        Array.from({ length: N }, async (_, i) => {
          const body = i % 4 === 3 ? BODIES[i % 64] : undefined;
          const r = await client.request({
            path: `/body/${i}`,
            method: body ? 'POST' : 'GET',
            body,
            headers: { 'x-seq': String(i) },
            blocking: false, // undici pipelines only non-blocking requests
          });
          const buf = Buffer.from(await r.body.arrayBuffer());
          return (
            r.statusCode === 200 &&
            hex(buf) === BODY_SHA[i % 64] &&
            r.headers['x-seq'] === String(i) &&
            r.headers['x-request-bytes'] === String(body ? body.length : 0)
          );
        }),
      ),
      40_000,
      'undici requests',
    );
    t.is(results.filter(Boolean).length, N);
    t.true(maxInFlight > 1, `pipelined (max ${maxInFlight} in flight on the server)`);
    await client.close();
    await within(server.close(), 10_000, 'close');
  });

  test(`${backend}: 10 MB chunked request body and 10 MB chunked response`, async (t) => {
    const SIZE = 10 << 20;
    const data = pattern(SIZE, 42);
    const want = hex(data);
    const server = await listen(t, backend, (req, res) => {
      if (req.url.startsWith('/upload')) {
        t.is(req.headers['transfer-encoding'], 'chunked');
        bodyHandler(req, res);
        return;
      }
      // Download: chunks of random sizes, honouring backpressure.
      res.setHeader('content-type', 'application/octet-stream');
      let at = 0;
      let k = 1;
      const pump = () => {
        while (at < SIZE) {
          const n = Math.min(SIZE - at, 1 + ((k++ * 7919) % (256 * 1024)));
          const more = res.write(data.subarray(at, at + n));
          at += n;
          if (!more) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
    const port = server.address().port;
    // Upload with Transfer-Encoding: chunked (no content-length), random chunk sizes.
    const upload = await within(
      new Promise((resolve, reject) => {
        const req = http.request({ host, port, method: 'POST', path: '/upload/0' }, (res) => {
          res.resume();
          res.on('end', () => resolve(res));
        });
        req.on('error', reject);
        let at = 0;
        let k = 3;
        const pump = () => {
          while (at < SIZE) {
            const n = Math.min(SIZE - at, 1 + ((k++ * 104729) % (300 * 1024)));
            const more = req.write(data.subarray(at, at + n));
            at += n;
            if (!more) return void req.once('drain', pump);
          }
          req.end();
        };
        pump();
      }),
      30_000,
      'upload',
    );
    t.is(upload.headers['x-request-bytes'], String(SIZE));
    t.is(upload.headers['x-request-sha256'], want);
    const down = await within(request({ host, port, path: '/download' }), 30_000, 'download');
    t.is(down.res.headers['transfer-encoding'], 'chunked');
    t.is(down.bytes, SIZE);
    t.is(down.sha, want);
    await within(server.close(), 10_000, 'close');
  });

  test(`${backend}: keepAliveTimeout closes idle connections (setTimeout on the duplex)`, async (t) => {
    const server = await listen(t, backend, (req, res) => res.end('ok'), {
      http: { keepAliveTimeout: 150 },
    });
    const c = net.connect(server.address().port, host);
    c.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    const closed = once(c, 'close', 5_000);
    c.on('data', () => {});
    const started = Date.now();
    await closed;
    const took = Date.now() - started;
    t.true(took >= 100 && took < 3_000, `closed after ${took} ms`);
    await until(() => server.connections === 0, 5_000);
    await within(server.close(), 5_000, 'close');
  });

  test(`${backend}: close() lets a busy response finish, closes idle keep-alive at once`, async (t) => {
    let release;
    const gate = new Promise((r) => (release = r));
    const server = await listen(t, backend, (req, res) => {
      if (req.url === '/slow') gate.then(() => res.end('slow done'));
      else res.end('fast');
    });
    const port = server.address().port;
    const agent = new http.Agent({ keepAlive: true });
    const idle = await request({ host, port, agent, path: '/fast' });
    t.is(idle.res.statusCode, 200);
    const slow = request({ host, port, path: '/slow' });
    await until(() => server.connections === 2, 5_000);
    let closed = false;
    const closing = server.close().then(() => (closed = true));
    await until(() => server.connections === 1, 5_000); // the idle one went at once
    t.false(closed);
    release();
    const r = await within(slow, 5_000, 'slow response');
    t.is(r.res.statusCode, 200);
    t.is(r.res.headers.connection, 'close');
    await within(closing, 5_000, 'close');
    t.is(server.connections, 0);
    agent.destroy();
  });

  test(`${backend}: node:http client over a zerosock client socket (toDuplex on connect())`, async (t) => {
    const nodeServer = http.createServer(bodyHandler);
    await new Promise((r) => nodeServer.listen(0, host, r));
    const port = nodeServer.address().port;
    const createConnection = (_opts, cb) => {
      connect({ port, host, backend }).then((s) => cb(null, s.toDuplex()), cb);
    };
    for (let i = 0; i < 20; i++) {
      const r = await within(
        request({ host, port, path: `/body/${i}`, method: 'POST', createConnection }, BODIES[i]),
        5_000,
        'request',
      );
      t.is(r.sha, BODY_SHA[i]);
      t.is(r.res.headers['x-request-sha256'], BODY_SHA[i]);
    }
    await new Promise((r) => nodeServer.close(r));
  });

  test(`${backend}: raw emit('connection', sock.toDuplex()) into http.createServer`, async (t) => {
    const hs = http.createServer((req, res) => res.end(`${req.socket.remoteAddress} ${req.url}`));
    const zs = createServer({ backend }, (sock) => hs.emit('connection', sock.toDuplex()));
    await zs.listen({ port: 0, host });
    const port = zs.address().port;
    const r = await new Promise((resolve, reject) => {
      http
        .get({ host, port, path: '/hi' }, (res) => {
          let s = '';
          res.on('data', (d) => (s += d));
          res.on('end', () => resolve(s));
        })
        .on('error', reject);
    });
    t.is(r, '127.0.0.1 /hi');
    zs.closeAllConnections();
    await within(zs.close(), 5_000, 'close');
  });
}

/** Reads `n` HTTP/1.1 responses with content-length bodies from a node:net socket. */
function readResponses(sock, n) {
  return new Promise((resolve, reject) => {
    const out = [];
    let buf = Buffer.alloc(0);
    sock.on('error', reject);
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
        const headers = {};
        for (const l of lines.slice(1)) {
          const k = l.indexOf(':');
          headers[l.slice(0, k).toLowerCase()] = l.slice(k + 1).trim();
        }
        const len = Number(headers['content-length'] ?? 0);
        if (buf.length < end + 4 + len) return;
        out.push({
          status: Number(lines[0].split(' ')[1]),
          headers,
          body: buf.subarray(end + 4, end + 4 + len),
        });
        buf = buf.subarray(end + 4 + len);
        if (out.length === n) resolve(out);
      }
    });
  });
}
