// Misuse is a typed error with a stable code, never a crash.
import test from 'ava';
import { connect, createServer, ZerosockError } from 'zerosock';
import { backends, once } from './helpers.mjs';

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

  test(`${backend}: EADDRINUSE is a Node-style system error`, async (t) => {
    const a = createServer({ backend });
    await a.listen({ port: 0, host: '127.0.0.1' });
    const b = createServer({ backend });
    const err = await t.throwsAsync(b.listen({ port: a.address().port, host: '127.0.0.1' }));
    t.is(err.code, 'EADDRINUSE');
    t.is(err.syscall, 'bind');
    await a.close();
  });
}

test('an unknown backend is ERR_ZEROSOCK_INVALID_BACKEND naming the allowed values', (t) => {
  const err = t.throws(() => createServer({ backend: 'kqueue' }), {
    code: 'ERR_ZEROSOCK_INVALID_BACKEND',
  });
  t.regex(err.message, /'auto', 'io_uring' or 'epoll'/);
});
