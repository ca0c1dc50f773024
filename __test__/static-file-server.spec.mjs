// examples/static-file-server.mjs in a child process, on every backend and as its node:net twin
// (--net): files of 0 B, 1 B, 4097 B and 24 MiB (SHA-256) arrive whole over undici, ranges are
// 206 (416 past the end), HEAD has no body, 404 / 405 / 400; raw over node:net: keep-alive
// (several requests on one connection, then Connection: close), pipelined requests in one
// write, heads split across writes, a half-closed client still gets its answers, paths that
// climb out of --root are refused, and a client that leaves mid-file does not stop the server.
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { backends, pattern, sha256, within } from './helpers.mjs';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const script = join(repo, 'examples', 'static-file-server.mjs');
const host = '127.0.0.1';

// <dir>/secret.txt is outside the served root <dir>/root.
const dir = mkdtempSync(join(tmpdir(), 'zerosock-static-'));
process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
const root = join(dir, 'root');
mkdirSync(join(root, 'sub'), { recursive: true });
const SECRET = 'the secret outside the root';
writeFileSync(join(dir, 'secret.txt'), SECRET);
const files = {
  'empty.bin': Buffer.alloc(0),
  'one.txt': Buffer.from('x'),
  'page.bin': pattern(4097, 2),
  'big.bin': pattern(24 << 20, 3),
  'a b.txt': Buffer.from('spaced'),
  'sub/index.html': Buffer.from('<h1>index</h1>\n'),
};
for (const [name, data] of Object.entries(files)) writeFileSync(join(root, name), data);
// links inside the root: one that leads out of it (refused), one that stays in (served)
symlinkSync(join(dir, 'secret.txt'), join(root, 'escape.txt'));
symlinkSync(join(root, 'one.txt'), join(root, 'link.txt'));
const bigSha = sha256().update(files['big.bin']).digest('hex');

const servers = [
  ...backends.map((b) => ({ name: `zerosock ${b}`, args: ['--backend', b] })),
  { name: 'node:net', args: ['--net'] },
];

/** Starts the example in a child process; resolves `{ port, child, stop() }` once it listens. */
async function start(t, args) {
  const child = spawn(
    process.execPath,
    [script, '--port', '0', '--root', root, '--idle', '20000', ...args],
    { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  t.teardown(() => child.kill('SIGKILL'));
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise((resolve) =>
    child.once('exit', (code, sig) => resolve({ code, sig })),
  );
  const port = await within(
    new Promise((resolve, reject) => {
      child.stdout.on('data', (d) => {
        out += d;
        const m = /127\.0\.0\.1:(\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      exited.then(({ code }) => reject(new Error(`the server exited (${code}): ${err}`)));
    }),
    15_000,
    'server start',
  );
  return {
    port,
    child,
    stderr: () => err,
    stop: async () => {
      t.is(child.exitCode, null, `the server is still running: ${err}`);
      child.kill('SIGTERM');
      const r = await within(exited, 10_000, 'server exit');
      t.is(r.code, 0, `the server exits cleanly: ${err}`);
    },
  };
}

/** One HTTP/1.1 response off the front of `buf` (no body after HEAD); null if incomplete. */
function parseResponse(buf, method) {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const [line, ...fields] = buf.toString('latin1', 0, end).split('\r\n');
  const headers = {};
  for (const f of fields) {
    const c = f.indexOf(':');
    headers[f.slice(0, c).toLowerCase()] = f.slice(c + 1).trim();
  }
  const len = method === 'HEAD' ? 0 : Number(headers['content-length'] ?? 0);
  if (buf.length < end + 4 + len) return null;
  const body = Buffer.from(buf.subarray(end + 4, end + 4 + len));
  return { status: Number(line.split(' ')[1]), line, headers, body, used: end + 4 + len };
}

/** A raw node:net client reading HTTP responses one by one. */
function raw(t, port) {
  const s = net.connect(port, host);
  t.teardown(() => s.destroy());
  let buf = Buffer.alloc(0);
  let ended = false;
  let wake = () => {};
  s.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    wake();
  });
  const closed = new Promise((resolve) => s.once('close', resolve));
  s.on('end', () => ((ended = true), wake()));
  s.on('error', () => ((ended = true), wake()));
  return {
    s,
    write: (x) => s.write(x),
    /** The next response (null if the connection ended first), within 10 s. */
    response: (method = 'GET') =>
      within(
        (async () => {
          for (;;) {
            const r = parseResponse(buf, method);
            if (r !== null) {
              buf = buf.subarray(r.used);
              return r;
            }
            if (ended) return null;
            await new Promise((resolve) => (wake = resolve));
          }
        })(),
        10_000,
        'response',
      ),
    /** Resolves once the server closed the connection with nothing more sent. */
    ended: async () => {
      await within(closed, 10_000, 'server FIN');
      return buf.length === 0 && ended;
    },
  };
}

const get = (path, extra = '') => `GET ${path} HTTP/1.1\r\nHost: test\r\n${extra}\r\n`;

for (const { name, args } of servers) {
  test(`${name}: 0 B, 1 B, 4097 B and 24 MiB files, ranges, HEAD, 404 and 405 over undici`, async (t) => {
    const srv = await start(t, args);
    const dispatcher = new Agent({ connections: 1, keepAliveTimeout: 10_000 });
    t.teardown(() => dispatcher.close());
    const base = `http://${host}:${srv.port}`;
    const fetchBody = async (path, opts = {}) => {
      const res = await within(
        request(`${base}${path}`, {
          dispatcher,
          headersTimeout: 10_000,
          bodyTimeout: 10_000,
          ...opts,
        }),
        20_000,
        `request ${path}`,
      );
      const h = sha256();
      const parts = [];
      let n = 0;
      for await (const chunk of res.body) {
        h.update(chunk);
        n += chunk.length;
        if (n <= 1 << 20) parts.push(chunk);
      }
      return { status: res.statusCode, headers: res.headers, n, sha: h.digest('hex'), parts };
    };
    const body = (r) => Buffer.concat(r.parts);

    for (const f of ['empty.bin', 'one.txt', 'page.bin']) {
      const r = await fetchBody(`/${f}`);
      t.is(r.status, 200, f);
      t.is(r.headers['content-length'], String(files[f].length), f);
      t.true(body(r).equals(files[f]), f);
    }
    const big = await within(fetchBody('/big.bin'), 30_000, '24 MiB');
    t.is(big.status, 200);
    t.is(big.n, 24 << 20);
    t.is(big.sha, bigSha);
    t.is(big.headers['content-type'], 'application/octet-stream');

    // ranges
    const page = files['page.bin'];
    let r = await fetchBody('/page.bin', { headers: { range: 'bytes=100-4096' } });
    t.is(r.status, 206);
    t.is(r.headers['content-range'], 'bytes 100-4096/4097');
    t.true(body(r).equals(page.subarray(100)));
    r = await fetchBody('/page.bin', { headers: { range: 'bytes=-10' } });
    t.is(r.status, 206);
    t.true(body(r).equals(page.subarray(4087)));
    r = await fetchBody('/page.bin', { headers: { range: 'bytes=4096-99999' } });
    t.is(r.status, 206);
    t.true(body(r).equals(page.subarray(4096)));
    const lo = 1_000_003;
    const hi = 20_000_000;
    r = await fetchBody('/big.bin', { headers: { range: `bytes=${lo}-${hi}` } });
    t.is(r.status, 206);
    t.is(r.n, hi - lo + 1);
    t.is(
      r.sha,
      sha256()
        .update(files['big.bin'].subarray(lo, hi + 1))
        .digest('hex'),
    );
    r = await fetchBody('/page.bin', { headers: { range: 'bytes=4097-' } });
    t.is(r.status, 416);
    t.is(r.headers['content-range'], 'bytes */4097');
    r = await fetchBody('/empty.bin', { headers: { range: 'bytes=0-0' } });
    t.is(r.status, 416);
    r = await fetchBody('/page.bin', { headers: { range: 'bytes=0-1,5-6' } }); // ignored
    t.is(r.status, 200);
    t.is(r.n, 4097);

    // HEAD, 404, 405, a directory's index.html, a %-encoded name
    r = await fetchBody('/big.bin', { method: 'HEAD' });
    t.is(r.status, 200);
    t.is(r.headers['content-length'], String(24 << 20));
    t.is(r.n, 0);
    r = await fetchBody('/missing.txt');
    t.is(r.status, 404);
    r = await fetchBody('/one.txt', { method: 'POST', body: 'abc' });
    t.is(r.status, 405);
    t.is(r.headers.allow, 'GET, HEAD');
    r = await fetchBody('/sub/');
    t.is(r.status, 200);
    t.is(r.headers['content-type'], 'text/html; charset=utf-8');
    t.true(body(r).equals(files['sub/index.html']));
    r = await fetchBody('/a%20b.txt');
    t.is(body(r).toString(), 'spaced');
    await srv.stop();
  });

  test(`${name}: keep-alive: several requests on one connection, then Connection: close`, async (t) => {
    const srv = await start(t, args);
    const c = raw(t, srv.port);
    for (const [path, status, want] of [
      ['/one.txt', 200, files['one.txt']],
      ['/page.bin', 200, files['page.bin']],
      ['/nope', 404, null],
      ['/empty.bin', 200, files['empty.bin']],
      ['/one.txt', 200, files['one.txt']],
    ]) {
      c.write(get(path));
      const r = await c.response();
      t.is(r?.status, status, path);
      t.is(r.headers.connection, undefined);
      if (want !== null) t.true(r.body.equals(want), path);
    }
    c.write(`HEAD /page.bin HTTP/1.1\r\nHost: test\r\n\r\n`);
    const h = await c.response('HEAD');
    t.is(h.headers['content-length'], '4097');
    c.write(get('/one.txt', 'Connection: close\r\n'));
    const last = await c.response();
    t.is(last.status, 200);
    t.is(last.headers.connection, 'close');
    t.true(await c.ended(), 'the server closes after Connection: close');

    // HTTP/1.0: closes unless asked to keep the connection
    const c10 = raw(t, srv.port);
    c10.write('GET /one.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    t.is((await c10.response()).headers.connection, 'keep-alive');
    c10.write('GET /one.txt HTTP/1.0\r\n\r\n');
    t.true((await c10.response()).body.equals(files['one.txt']));
    t.true(await c10.ended());
    await srv.stop();
  });

  test(`${name}: pipelined requests in one write, heads split across writes, half-close`, async (t) => {
    const srv = await start(t, args);
    const c = raw(t, srv.port);
    c.write(
      get('/page.bin') +
        'HEAD /page.bin HTTP/1.1\r\nHost: test\r\n\r\n' +
        get('/missing') +
        get('/page.bin', 'Range: bytes=10-19\r\n') +
        'POST /one.txt HTTP/1.1\r\nHost: test\r\nContent-Length: 3\r\n\r\nxyz' +
        get('/sub/') +
        get('/one.txt', 'Connection: close\r\n') +
        get('/one.txt'), // after Connection: close: not answered
    );
    const want = [
      ['GET', 200, files['page.bin']],
      ['HEAD', 200, Buffer.alloc(0)],
      ['GET', 404, null],
      ['GET', 206, files['page.bin'].subarray(10, 20)],
      ['POST', 405, null],
      ['GET', 200, files['sub/index.html']],
      ['GET', 200, files['one.txt']],
    ];
    for (const [i, [method, status, body]] of want.entries()) {
      const r = await c.response(method);
      t.is(r?.status, status, `response ${i}`);
      if (body !== null) t.true(r.body.equals(body), `response ${i}`);
    }
    t.true(await c.ended(), 'nothing after the Connection: close answer');

    // One head cut into pieces, across CRLF CRLF too, then the next one in the same write as the
    // end of the first.
    const s = raw(t, srv.port);
    const head = get('/page.bin');
    for (const piece of [
      head.slice(0, 1),
      head.slice(1, 9),
      head.slice(9, -3),
      head.slice(-3, -1),
    ]) {
      s.write(piece);
      await new Promise((r) => setTimeout(r, 20));
    }
    s.write(head.slice(-1) + get('/one.txt').slice(0, 5));
    await new Promise((r) => setTimeout(r, 20));
    s.write(get('/one.txt').slice(5));
    t.true((await s.response()).body.equals(files['page.bin']));
    t.true((await s.response()).body.equals(files['one.txt']));

    // A client that half-closes after its requests still gets every answer, then FIN.
    const hc = raw(t, srv.port);
    hc.write(get('/one.txt') + get('/page.bin') + get('/big.bin', 'Range: bytes=0-99999\r\n'));
    hc.s.end();
    t.true((await hc.response()).body.equals(files['one.txt']));
    t.true((await hc.response()).body.equals(files['page.bin']));
    t.true((await hc.response()).body.equals(files['big.bin'].subarray(0, 100_000)));
    t.true(await hc.ended());
    await srv.stop();
  });

  test(`${name}: garbage is 400 and closes; paths out of --root are refused`, async (t) => {
    const srv = await start(t, args);
    for (const bad of [
      'garbage\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: test\r\nno colon here\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: test\r\n folded: header\r\n\r\n',
      'GET / HTTP/1.1\r\n\r\n', // HTTP/1.1 without Host
      'GET /one.txt HTTP/1.1\r\nHost: test\r\nContent-Length: 1, 2\r\n\r\n',
      `GET /${'a'.repeat(20_000)} HTTP/1.1\r\n`, // a head that never ends: 431
    ]) {
      const c = raw(t, srv.port);
      c.write(bad);
      const r = await c.response();
      t.true(r?.status === 400 || r?.status === 431, JSON.stringify(bad.slice(0, 40)));
      t.is(r.headers.connection, 'close');
      t.true(await c.ended(), JSON.stringify(bad.slice(0, 40)));
    }
    const ok = raw(t, srv.port);
    for (const path of [
      '/../secret.txt',
      '/../package.json',
      '/%2e%2e/secret.txt',
      '/..%2fsecret.txt',
      '/sub/../../secret.txt',
      '/./../secret.txt',
      '/%2e%2e%2f%2e%2e%2fetc/passwd',
      '/..\\secret.txt',
      '/escape.txt',
    ]) {
      ok.write(get(path));
      const r = await ok.response();
      t.true(r?.status === 403 || r?.status === 404, `${path}: ${r?.status}`);
      t.false(r.body.toString().includes(SECRET), path);
    }
    // what stays inside is served, %-encoded or in absolute form
    ok.write(get('/link.txt'));
    t.true((await ok.response()).body.equals(files['one.txt']));
    ok.write(get('/sub/../one.txt'));
    t.true((await ok.response()).body.equals(files['one.txt']));
    ok.write(get('/%6f%6Ee.txt'));
    t.true((await ok.response()).body.equals(files['one.txt']));
    ok.write('GET http://test/one.txt HTTP/1.1\r\nHost: test\r\n\r\n');
    t.true((await ok.response()).body.equals(files['one.txt']));
    ok.write(get('/bad%zzescape'));
    t.is((await ok.response()).status, 400);
    await srv.stop();
  });

  test(`${name}: clients that leave mid-file do not stop the server`, async (t) => {
    const srv = await start(t, args);
    const leave = (how) =>
      new Promise((resolve) => {
        const s = net.connect(srv.port, host, () => s.write(get('/big.bin')));
        s.once('data', () => {
          s.pause(); // the kernel's buffers fill: the server's file send waits
          setTimeout(() => {
            if (how === 'reset') s.resetAndDestroy();
            else s.destroy();
            resolve();
          }, 150);
        });
        s.on('error', () => {});
      });
    await within(Promise.all([leave('close'), leave('reset'), leave('close')]), 10_000, 'leave');
    // and one that asks and leaves before any answer
    const s = net.connect(srv.port, host, () => {
      s.write(get('/big.bin') + get('/big.bin'));
      s.destroy();
    });
    await new Promise((r) => setTimeout(r, 200));
    const c = raw(t, srv.port);
    c.write(get('/page.bin'));
    t.true((await c.response()).body.equals(files['page.bin']));
    c.write(get('/big.bin', 'Range: bytes=-5\r\n'));
    t.true((await c.response()).body.equals(files['big.bin'].subarray(-5)));
    t.is(srv.stderr(), '');
    await srv.stop();
  });
}
