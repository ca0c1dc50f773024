// Misuse is a typed error with a stable code, never a crash.
import test from 'ava';
import { connect, createServer, ZerosockError } from 'zerosock';
import { backends, once, pattern, sha256, until, within } from './helpers.mjs';

for (const backend of backends) {
  test(`${backend}: send after close and after end throw ERR_ZEROSOCK_SOCKET_CLOSED`, async (t) => {
    const server = createServer({ backend }, (s) => s.on('end', () => s.end()));
    await server.listen({ port: 0, host: '127.0.0.1' });
    const c = await connect({ port: server.address().port, host: '127.0.0.1', backend });
    c.end();
    t.throws(() => c.send('x'), { instanceOf: ZerosockError, code: 'ERR_ZEROSOCK_SOCKET_CLOSED' });
    await once(c, 'close');
    t.throws(() => c.send(new Uint8Array(4)), { code: 'ERR_ZEROSOCK_SOCKET_CLOSED' });
    await server.close();
  });

  test(`${backend}: a borrowed view can't be retained after its callback`, async (t) => {
    let kept;
    let retained;
    const server = createServer({ backend }, (s) => {
      s.on('data', (v) => {
        if (kept === undefined) kept = v;
        else if (retained === undefined) retained = s.retain(v);
      });
      s.on('end', () => s.end());
    });
    await server.listen({ port: 0, host: '127.0.0.1' });
    const c = await connect({ port: server.address().port, host: '127.0.0.1', backend });
    c.send('first');
    c.flush();
    await new Promise((r) => setTimeout(r, 50));
    c.send('second');
    c.end();
    await once(c, 'close');
    t.throws(() => c.retain(kept), { code: 'ERR_ZEROSOCK_BUFFER_RELEASED' });
    t.throws(() => c.release(kept), { code: 'ERR_ZEROSOCK_BUFFER_RELEASED' });
    t.is(Buffer.from(retained).toString(), 'second');
    c.release(retained);
    t.throws(() => c.release(retained), { code: 'ERR_ZEROSOCK_BUFFER_RELEASED' });
    await server.close();
  });

  test(`${backend}: bad arguments are ERR_INVALID_ARG_* / ERR_OUT_OF_RANGE`, async (t) => {
    await t.throwsAsync(connect({ port: 70000, host: '127.0.0.1', backend }), {
      code: 'ERR_OUT_OF_RANGE',
    });
    await t.throwsAsync(connect({ port: 'abc', host: '127.0.0.1', backend }), {
      code: 'ERR_INVALID_ARG_TYPE',
    });
    await t.throwsAsync(connect({ port: 1, host: '', backend }), { code: 'ERR_INVALID_ARG_TYPE' });
    await t.throwsAsync(connect(null), { code: 'ERR_INVALID_ARG_TYPE' });
    const server = createServer({ backend });
    await t.throwsAsync(server.listen({ port: -1 }), { code: 'ERR_OUT_OF_RANGE' });
    await t.throwsAsync(server.listen({ port: 0, host: '127.0.0.1', backlog: 0 }), {
      code: 'ERR_OUT_OF_RANGE',
    });
    const s2 = createServer({ backend });
    await s2.listen({ port: 0, host: '127.0.0.1' });
    const c = await connect({ port: s2.address().port, host: '127.0.0.1', backend });
    t.throws(() => c.send(42), { code: 'ERR_INVALID_ARG_TYPE' });
    t.throws(() => c.send({}), { code: 'ERR_INVALID_ARG_TYPE' });
    c.destroy();
    s2.closeAllConnections();
    await s2.close();
  });

  // Submission records live in memory JS can write: a handle that JS does not hold (forged,
  // or given back already) must be refused before it frees a buffer the kernel still fills.
  test.serial(`${backend}: forged buffer handles in submission records are refused`, async (t) => {
    let srv;
    const server = createServer({ backend }, (s) => (srv = s));
    t.teardown(() => {
      server.closeAllConnections();
      return server.close();
    });
    await server.listen({ port: 0, host: '127.0.0.1' });
    const c = await connect({ port: server.address().port, host: '127.0.0.1', backend });
    t.teardown(() => c.destroy());
    const engine = c.engine;
    // 1 MiB through large receive buffers; each one JS gives back is recycled into the
    // engine's receive ring under its next generation — what a forger would guess.
    const seen = new Map();
    let got = 0;
    const onData = (v) => {
      seen.set(`${engine.currentLo}:${engine.currentHi}`, [engine.currentLo, engine.currentHi]);
      got += v.byteLength;
    };
    c.on('data', onData);
    await within(
      until(() => srv !== undefined),
      5000,
      'accept',
    );
    srv.send(pattern(1 << 20, 3));
    await within(
      until(() => got === 1 << 20),
      10_000,
      'first MiB',
    );
    c.off('data', onData);
    // A second MiB makes the engine refill its receive ring from the buffers given back.
    let more = 0;
    const onMore = (v) => (more += v.byteLength);
    c.on('data', onMore);
    srv.send(pattern(1 << 20, 4));
    await within(
      until(() => more === 1 << 20),
      10_000,
      'second MiB',
    );
    c.off('data', onMore);
    await new Promise((r) => setImmediate(r));
    const handles = [...seen.values()].slice(0, 64);
    const failed0 = engine.native.stats().failedRecords;
    let forged = 0;
    for (const [lo, hi] of handles) {
      for (let k = 1; k <= 3; k++) {
        engine.submit(2 /* RELEASE */, 0, lo, (hi + k) | 0);
        forged++;
      }
    }
    const [lo, hi] = handles[0];
    engine.submit(1 /* SEND */, c.id, lo, (hi + 1) | 0, 0, 64);
    engine.submit(7 /* DROP */, 0, lo, (hi + 1) | 0);
    engine.submit(2 /* RELEASE */, 0, lo, hi); // given back already
    engine.flush();
    t.is(engine.native.stats().failedRecords - failed0, forged + 3);
    // Every receive buffer is still the kernel's: a 4 MiB stream arrives intact.
    const data = pattern(4 << 20, 5);
    const h = sha256();
    let streamed = 0;
    c.on('data', (v) => {
      h.update(v);
      streamed += v.byteLength;
    });
    srv.send(data);
    srv.end();
    await within(once(c, 'end'), 20_000, 'stream');
    t.is(streamed, data.length);
    t.is(h.digest('hex'), sha256().update(data).digest('hex'));
  });

  test.serial(`${backend}: a send record for a closed socket gives its buffer back`, async (t) => {
    const server = createServer({ backend });
    t.teardown(() => {
      server.closeAllConnections();
      return server.close();
    });
    await server.listen({ port: 0, host: '127.0.0.1' });
    const c = await connect({ port: server.address().port, host: '127.0.0.1', backend });
    const engine = c.engine;
    c.destroy();
    await once(c, 'close');
    const before = engine.native.stats();
    const slice = engine.acquire(1);
    t.is(engine.native.stats().poolInUse, before.poolInUse + 1);
    engine.submit(1 /* SEND */, c.id, slice.handleLo, slice.handleHi, 0, 8);
    engine.flush();
    const after = engine.native.stats();
    t.is(after.failedRecords, before.failedRecords + 1);
    t.is(after.poolInUse, before.poolInUse);
  });

  test(`${backend}: EADDRINUSE is a Node-style system error`, async (t) => {
    const a = createServer({ backend });
    await a.listen({ port: 0, host: '127.0.0.1' });
    const b = createServer({ backend });
    const err = await t.throwsAsync(b.listen({ port: a.address().port, host: '127.0.0.1' }));
    t.is(err.code, 'EADDRINUSE');
    t.is(err.syscall, 'listen');
    t.regex(err.message, /^listen EADDRINUSE: address already in use 127\.0\.0\.1:\d+$/);
    await a.close();
  });
}

test('bad socket options are typed errors at connect() and createServer()', async (t) => {
  const cases = [
    [{ highWaterMark: -1 }, 'ERR_OUT_OF_RANGE'],
    [{ highWaterMark: '16k' }, 'ERR_INVALID_ARG_TYPE'],
    [{ cork: 'yes' }, 'ERR_INVALID_ARG_TYPE'],
    [{ cork: { maxBytes: 0 } }, 'ERR_OUT_OF_RANGE'],
    [{ cork: { maxBytes: 65537 } }, 'ERR_OUT_OF_RANGE'],
    [{ cork: { maxDelayUs: 'soon' } }, 'ERR_INVALID_ARG_TYPE'],
    [{ zerocopyThreshold: -1 }, 'ERR_OUT_OF_RANGE'],
    [{ allowHalfOpen: 'yes' }, 'ERR_INVALID_ARG_TYPE'],
    [{ zerocopyReceive: 1 }, 'ERR_INVALID_ARG_TYPE'],
    [{ busyPollUs: 20_000 }, 'ERR_OUT_OF_RANGE'],
  ];
  for (const [options, code] of cases) {
    const what = JSON.stringify(options);
    t.throws(() => createServer(options), { code }, `createServer(${what})`);
    await t.throwsAsync(connect({ port: 1, host: '127.0.0.1', ...options }), { code }, what);
  }
  // The documented shapes are accepted.
  for (const options of [
    { cork: false },
    { cork: {} },
    { cork: { maxBytes: 4096, maxDelayUs: 0 } },
  ])
    t.notThrows(() => createServer(options));
});

test('an unknown backend is ERR_ZEROSOCK_INVALID_BACKEND naming the allowed values', (t) => {
  const err = t.throws(() => createServer({ backend: 'kqueue' }), {
    code: 'ERR_ZEROSOCK_INVALID_BACKEND',
  });
  t.regex(err.message, /'auto', 'io_uring' or 'epoll'/);
});

test('unknown option keys are ERR_INVALID_ARG_VALUE naming the key', async (t) => {
  const { connect: c, createServer: cs } = await import('zerosock');
  await t.throwsAsync(c({ port: 1, bogus: 1 }), {
    code: 'ERR_INVALID_ARG_VALUE',
    message: /"bogus"/,
  });
  t.throws(() => cs({ nope: true }), { code: 'ERR_INVALID_ARG_VALUE', message: /"nope"/ });
  const server = cs();
  // A misspelt key binds nothing (before Unix sockets, `path` itself was silently TCP on '::').
  await t.throwsAsync(server.listen({ port: 0, pth: '/tmp/zerosock-x.sock' }), {
    code: 'ERR_INVALID_ARG_VALUE',
    message: /"pth"/,
  });
  t.false(server.listening, 'a bad listen() binds nothing');
});

// Every options object anywhere in the public API is key-checked: a misspelt option is an error
// naming it, never silently ignored (the class of bug behind `listen({ path })` binding TCP).
test('an unknown key in any options object of the API is ERR_INVALID_ARG_VALUE naming it', async (t) => {
  const zs = await import('zerosock');
  const server = zs.createServer({ backend: backends[0] });
  await server.listen({ port: 0, host: '127.0.0.1' });
  const sock = await zs.connect({ port: server.address().port, host: '127.0.0.1' });
  const http = zs.createHttpServer(() => {});
  const cases = [
    ['createServer', () => zs.createServer({ bogus: 1 })],
    ['createServer cork', () => zs.createServer({ cork: { maxBytes: 100, bogus: 1 } })],
    ['listen', () => zs.createServer().listen({ port: 0, bogus: 1 })],
    ['connect', () => zs.connect({ port: 1, bogus: 1 })],
    ['connect cork', () => zs.connect({ port: 1, cork: { maxDelay: 1 } })],
    ['toDuplex', () => sock.toDuplex({ bogus: 1 })],
    ['sendZeroCopy', () => sock.sendZeroCopy(new Uint8Array(8), { bogus: 1 })],
    ['BufferPool', () => new zs.BufferPool({ size: 4096, count: 1, bogus: 1 })],
    ['createHttpServer', () => zs.createHttpServer(() => {}, { bogus: 1 })],
    ['createHttpServer http', () => zs.createHttpServer(() => {}, { http: { bogus: 1 } })],
    ['HttpServer.listen', () => http.listen({ port: 0, bogus: 1 })],
    ['HttpServer.close', () => http.close({ bogus: 1 })],
    ['fastifyServerFactory', () => zs.fastifyServerFactory({ bogus: 1 })(() => {}, {})],
    ['startWorkers', () => zs.startWorkers('data:text/javascript,', { bogus: 1 })],
  ];
  for (const [what, call] of cases) {
    let err;
    try {
      await call();
    } catch (e) {
      err = e;
    }
    t.is(err?.code, 'ERR_INVALID_ARG_VALUE', `${what}: ${err?.message}`);
    t.regex(String(err?.message), /bogus|maxDelay/, what);
  }
  sock.destroy();
  await server.close();
});
