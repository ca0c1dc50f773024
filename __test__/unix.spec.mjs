// Unix domain sockets: listen({ path }) / connect({ path }) over a filesystem path and a Linux
// abstract name, on both backends, against node:net peers in this process and in a child
// process; the socket file's life (address(), unlink on close, EADDRINUSE, permissions),
// connect errors, node:http and undici over a path, zerocopy sends (copied on AF_UNIX),
// auto-cork, calls from inside callbacks, and 10 000 connect/close cycles without a leak.
import test from 'ava';
import net from 'node:net';
import http from 'node:http';
import { existsSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { connect, createHttpServer, createServer } from 'zerosock';
import { backends, fdCount, once, pattern, sha256, until, within } from './helpers.mjs';
import { startEcho } from './peers/echo.mjs';

let seq = 0;
/** A fresh name: a path in the temp dir, or an abstract name. */
const name = (kind) => {
  const tag = `zs-unix-${process.pid}-${seq++}`;
  if (kind === 'abstract') return `\0${tag}`;
  const p = join(tmpdir(), `${tag}.sock`);
  if (existsSync(p)) unlinkSync(p);
  return p;
};
const hex = (b) => sha256().update(b).digest('hex');

/** A zerosock echo server on `path`. */
async function zsEcho(backend, path) {
  const server = createServer({ backend }, (s) => {
    s.on('data', (v) => s.send(v));
    s.on('end', () => s.end());
  });
  await server.listen({ path });
  return server;
}

/** A node:net client: sends `data`, half-closes, resolves with the SHA-256 of the echo. */
function netClient(path, data) {
  return new Promise((resolve, reject) => {
    const h = sha256();
    let n = 0;
    const c = net.connect(path, () => c.end(data));
    c.on('data', (d) => {
      h.update(d);
      n += d.length;
    });
    c.on('end', () => resolve({ bytes: n, sha: h.digest('hex') }));
    c.on('error', reject);
  });
}

/** A zerosock client: sends `data` from inside the connect continuation, hashes the echo. */
async function zsClient(backend, path, data) {
  const c = await connect({ path, backend });
  const h = sha256();
  let n = 0;
  c.on('data', (v) => {
    h.update(v);
    n += v.byteLength;
  });
  const ended = once(c, 'end');
  c.send(data);
  c.end();
  await ended;
  return { bytes: n, sha: h.digest('hex'), remote: c.remoteAddress, local: c.localAddress };
}

const data = pattern(1 << 20, 7);

for (const backend of backends) {
  for (const kind of ['path', 'abstract']) {
    test(`${backend}, ${kind}: node:net client in this process, zerosock server`, async (t) => {
      const path = name(kind);
      const server = await zsEcho(backend, path);
      t.is(server.address(), path);
      const got = await within(netClient(path, data), 20_000, 'echo');
      t.deepEqual(got, { bytes: data.length, sha: hex(data) });
      await server.close();
    });

    test(`${backend}, ${kind}: node:net server in a child process, zerosock client`, async (t) => {
      const path = name(kind);
      const peer = await startEcho('net', undefined, path);
      try {
        const got = await within(zsClient(backend, path, data), 20_000, 'echo');
        t.is(got.bytes, data.length);
        t.is(got.sha, hex(data));
        // node:net reports no addresses on a Unix socket; neither does zerosock.
        t.is(got.remote, undefined);
        t.is(got.local, undefined);
      } finally {
        peer.kill();
      }
    });

    test(`${backend}, ${kind}: zerosock server in a child process, node:net and zerosock clients`, async (t) => {
      const path = name(kind);
      const peer = await startEcho('zerosock', backend, path);
      try {
        const [a, b] = await within(
          Promise.all([netClient(path, data), zsClient(backend, path, data)]),
          20_000,
          'echo',
        );
        t.deepEqual(a, { bytes: data.length, sha: hex(data) });
        t.is(b.sha, hex(data));
      } finally {
        peer.kill();
      }
    });
  }

  test(`${backend}: the socket file exists while listening, is removed by close(), and a path in use is EADDRINUSE`, async (t) => {
    const path = name('path');
    const server = await zsEcho(backend, path);
    t.true(statSync(path).isSocket());
    // A second zerosock listener and a node:net listener both meet EADDRINUSE, node-shaped.
    const err = await t.throwsAsync(createServer({ backend }).listen({ path }));
    t.is(err.code, 'EADDRINUSE');
    t.is(err.syscall, 'listen');
    t.is(err.address, path);
    t.is(err.message, `listen EADDRINUSE: address already in use ${path}`);
    const netServer = net.createServer();
    const [netErr] = await once(netServer.listen(path), 'error').catch((e) => [e]);
    t.is(netErr.code, 'EADDRINUSE');
    t.true(existsSync(path), 'a failed listen leaves the owner its file');
    await server.close();
    t.false(existsSync(path), 'close() removes the socket file');
    t.is(server.address(), null);
    // A stale file (nobody listening) is EADDRINUSE too, as with node:net.
    writeFileSync(path, '');
    const stale = await t.throwsAsync(createServer({ backend }).listen(path));
    t.is(stale.code, 'EADDRINUSE');
    unlinkSync(path);
  });

  test(`${backend}: zerosock listens where a node:net server closed, and node:net where zerosock closed`, async (t) => {
    const path = name('path');
    const netServer = net.createServer();
    await new Promise((r) => netServer.listen(path, r));
    await new Promise((r) => netServer.close(r));
    const server = await zsEcho(backend, path);
    t.deepEqual(await netClient(path, 'x'), { bytes: 1, sha: hex('x') });
    await server.close();
    const again = net.createServer();
    await new Promise((resolve, reject) => again.listen(path, resolve).on('error', reject));
    await new Promise((r) => again.close(r));
    t.pass();
  });

  test(`${backend}: connect errors: ENOENT for a missing path, ECONNREFUSED for a stale file`, async (t) => {
    const missing = name('path');
    const e1 = await t.throwsAsync(connect({ path: missing, backend }));
    t.is(e1.code, 'ENOENT');
    t.is(e1.syscall, 'connect');
    t.is(e1.address, missing);
    t.is(e1.message, `connect ENOENT ${missing}`);
    t.is(e1.port, undefined);
    // A file that is not a listening socket (a regular file here) refuses, as with node:net.
    const stale = name('path');
    writeFileSync(stale, '');
    const e2 = await t.throwsAsync(connect({ path: stale, backend }));
    t.is(e2.code, 'ECONNREFUSED');
    unlinkSync(stale);
    const abs = await t.throwsAsync(connect({ path: name('abstract'), backend }));
    t.is(abs.code, 'ECONNREFUSED');
  });

  test(`${backend}: permissions: EACCES without write permission, readableAll / writableAll open it to everyone`, async (t) => {
    const path = name('path');
    const closed = await zsEcho(backend, path);
    const otherUser = process.getuid() === 0;
    /** Connects as another user (root bypasses permissions) or, not root, as ourselves. */
    const tryConnect = () =>
      otherUser
        ? new Promise((resolve) => {
            const code = `require('net').connect(${JSON.stringify(path)}).on('connect',()=>{console.log('ok');process.exit(0)}).on('error',e=>{console.log(e.code);process.exit(0)})`;
            const child = spawn(process.execPath, ['-e', code], {
              uid: 65534,
              gid: 65534,
              cwd: '/',
            });
            let out = '';
            child.stdout.on('data', (d) => (out += d));
            child.on('close', () => resolve(out.trim()));
          })
        : netClient(path, 'x').then(
            () => 'ok',
            (e) => e.code,
          );
    if (!otherUser) {
      t.log('not root: EACCES checked as this user, with the socket file at mode 0');
      const { chmodSync } = await import('node:fs');
      chmodSync(path, 0);
    }
    t.is(await within(tryConnect(), 10_000, 'connect'), 'EACCES');
    await closed.close();
    const server = createServer({ backend }, (s) => s.end());
    await server.listen({ path, readableAll: true, writableAll: true });
    t.is(statSync(path).mode & 0o777, 0o777 & ~0, 'read and write for everyone');
    t.is(await within(tryConnect(), 10_000, 'connect'), 'ok');
    await server.close();
    const p2 = name('path');
    const ro = createServer({ backend });
    await ro.listen({ path: p2, readableAll: true });
    t.is(statSync(p2).mode & 0o444, 0o444);
    await ro.close();
  });

  test(`${backend}: node:http on zerosock over a path, requests from node:http and undici`, async (t) => {
    const path = name('path');
    const app = createHttpServer((req, res) => res.end(`hello ${req.url}`));
    await app.listen({ path });
    t.is(app.address(), path);
    const viaHttp = await new Promise((resolve, reject) => {
      http
        .get({ socketPath: path, path: '/a' }, (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve(body));
        })
        .on('error', reject);
    });
    t.is(viaHttp, 'hello /a');
    const agent = new Agent({ connect: { socketPath: path } });
    const r = await request('http://localhost/b', { dispatcher: agent });
    t.is(await r.body.text(), 'hello /b');
    await agent.close();
    t.true(app.server.connectionCount >= 0);
    await app.close();
    t.false(existsSync(path));
  });

  test(`${backend}: toDuplex() over a Unix socket pipes 1 MiB`, async (t) => {
    const path = name('path');
    const server = createServer({ backend }, (s) => {
      const d = s.toDuplex();
      d.pipe(d);
    });
    await server.listen({ path });
    const got = await within(netClient(path, data), 20_000, 'duplex echo');
    t.deepEqual(got, { bytes: data.length, sha: hex(data) });
    await server.close();
  });

  test(`${backend}: sendZeroCopy over a Unix socket says copied, and the bytes arrive`, async (t) => {
    const path = name('path');
    const h = sha256();
    let bytes = 0;
    const done = new Promise((resolve) => {
      const s = net.createServer((c) => {
        c.on('data', (d) => {
          h.update(d);
          bytes += d.length;
        });
        c.on('end', () => {
          resolve();
          s.close();
        });
      });
      s.listen(path);
    });
    await until(() => existsSync(path));
    const c = await connect({ path, backend, zerocopyThreshold: 1024 });
    const chunk = pattern(64 * 1024, 3);
    const results = [];
    for (let i = 0; i < 16; i++) results.push(c.sendZeroCopy(chunk));
    const all = await within(Promise.all(results), 10_000, 'zerocopy completions');
    t.true(
      all.every((r) => r.copied === true),
      'AF_UNIX has no zerocopy: every send is copied',
    );
    c.end();
    await within(done, 10_000, 'peer end');
    t.is(bytes, 16 * chunk.length);
    t.is(h.digest('hex'), hex(Buffer.concat(Array(16).fill(chunk))));
  });

  test(`${backend}: auto-cork over a Unix socket coalesces 1 000 small sends`, async (t) => {
    const path = name('path');
    let got = 0;
    const all = new Promise((resolve) => {
      const s = net.createServer((c) =>
        c.on('data', (d) => {
          got += d.length;
          if (got === 64_000) {
            resolve();
            c.destroy();
            s.close();
          }
        }),
      );
      s.listen(path);
    });
    await until(() => existsSync(path));
    const c = await connect({ path, backend });
    const msg = Buffer.alloc(64, 1);
    for (let i = 0; i < 1000; i++) c.send(msg);
    await within(all, 10_000, 'all bytes');
    const st = c.stats();
    t.true(st.flushes < 100, `${st.flushes} flushes for 1 000 sends`);
    t.true(st.bytesPerFlush > 640, `${st.bytesPerFlush} B per flush`);
    c.destroy();
  });

  test(`${backend}: listen and connect from inside callbacks ('data', 'end', timers, promises)`, async (t) => {
    const front = name('path');
    const back = name('abstract');
    const backend2 = await zsEcho(backend, back);
    // The front server opens a connection to the back server from inside its 'data' callback
    // and relays, then ends from inside the back connection's 'end' callback (half-open: the
    // reply still flows after the client's FIN).
    const server = createServer({ backend, allowHalfOpen: true }, (s) => {
      s.once('data', (first) => {
        const head = Buffer.from(first);
        s.pause(); // nothing is read (so lost) while the back connection opens
        connect({ path: back, backend }).then((b) => {
          b.on('data', (v) => s.send(v));
          b.on('end', () => s.end());
          b.send(head);
          s.on('data', (v) => b.send(v));
          s.on('end', () => b.end());
          s.resume();
        });
      });
    });
    await new Promise((resolve, reject) =>
      setTimeout(() => server.listen({ path: front }).then(resolve, reject), 1),
    );
    const got = await within(netClient(front, data), 20_000, 'relay');
    t.deepEqual(got, { bytes: data.length, sha: hex(data) });
    await server.close();
    await backend2.close();
  });

  // Serial: ava runs serial tests alone, before the others, so the fd count is this test's.
  test.serial(
    `${backend}: 10 000 connect/close cycles over a Unix socket leak no descriptor`,
    async (t) => {
      const path = name('path');
      let accepted = 0;
      const server = createServer({ backend }, (s) => {
        accepted++;
        s.on('end', () => s.end());
      });
      await server.listen({ path });
      const before = fdCount();
      const started = Date.now();
      const N = 10_000;
      for (let i = 0; i < N; i += 50) {
        const batch = [];
        for (let j = 0; j < 50; j++) {
          batch.push(
            connect({ path, backend }).then((c) => {
              const closed = once(c, 'close');
              c.end();
              return closed;
            }),
          );
        }
        await within(Promise.all(batch), 20_000, `cycle ${i}`);
        if (Date.now() - started > 90_000) t.fail(`only ${i} cycles in 90 s`);
      }
      await until(() => server.connectionCount === 0 && accepted === N, 20_000);
      t.is(accepted, N);
      t.true(fdCount() <= before + 2, `fds ${before} -> ${fdCount()}`);
      await server.close();
    },
  );
}

test('bad Unix socket options are ERR_INVALID_ARG_VALUE / _TYPE naming the option', async (t) => {
  const cases = [
    [{ path: '/tmp/x.sock', port: 80 }, 'ERR_INVALID_ARG_VALUE', /"port"/],
    [{ path: '/tmp/x.sock', host: '::1' }, 'ERR_INVALID_ARG_VALUE', /"host"/],
    [{ path: '/tmp/x.sock', reusePort: true }, 'ERR_INVALID_ARG_VALUE', /"reusePort"/],
    [{ port: 0, readableAll: true }, 'ERR_INVALID_ARG_VALUE', /"readableAll"/],
    [{ port: 0, writableAll: true }, 'ERR_INVALID_ARG_VALUE', /"writableAll"/],
    [{ path: '' }, 'ERR_INVALID_ARG_TYPE', /"path"/],
    [{ path: 42 }, 'ERR_INVALID_ARG_TYPE', /"path"/],
    [{ path: `/tmp/${'a'.repeat(110)}` }, 'ERR_INVALID_ARG_VALUE', /at most 107/],
    [{ path: `\0${'a'.repeat(108)}` }, 'ERR_INVALID_ARG_VALUE', /at most 108/],
    [{ path: '/tmp/a\0b' }, 'ERR_INVALID_ARG_VALUE', /NUL/],
    [{ path: '/tmp/x.sock', readableAll: 'yes' }, 'ERR_INVALID_ARG_TYPE', /"readableAll"/],
    [{ path: '/tmp/x.sock', mode: 0o600 }, 'ERR_INVALID_ARG_VALUE', /"mode"/],
  ];
  for (const [opts, code, message] of cases) {
    const err = await t.throwsAsync(createServer().listen(opts), undefined, JSON.stringify(opts));
    t.is(err.code, code, JSON.stringify(opts));
    t.regex(err.message, message);
  }
  const c = await t.throwsAsync(connect({ path: '/tmp/x.sock', port: 1 }));
  t.is(c.code, 'ERR_INVALID_ARG_VALUE');
  t.regex(c.message, /"port"/);
  const long = await t.throwsAsync(connect(`/tmp/${'b'.repeat(120)}`));
  t.is(long.code, 'ERR_INVALID_ARG_VALUE');
  t.false(existsSync(`/tmp/${'a'.repeat(102)}`), 'nothing was bound under a truncated name');
});
