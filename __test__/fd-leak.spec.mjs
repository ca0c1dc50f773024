// fd leaks are measured alone: this file's tests run one at a time, nothing else open.
import test from 'ava';
import { connect, createServer, stats } from 'zerosock';
import { backends, fdCount, once, until } from './helpers.mjs';

for (const backend of backends) {
  test.serial(`${backend}: 10 000 connect/close cycles leak no fd`, async (t) => {
    const server = createServer({ backend }, (sock) => {
      sock.on('data', (v) => sock.send(v));
      sock.on('end', () => sock.end());
    });
    await server.listen({ port: 0, host: '127.0.0.1' });
    const port = server.address().port;
    const warm = await connect({ port, host: '127.0.0.1', backend });
    warm.end();
    await once(warm, 'close');
    const before = fdCount();
    const poolBefore = stats()[backend].poolInUse;
    const started = Date.now();
    for (let i = 0; i < 10_000 / 50; i++) {
      await Promise.all(
        Array.from({ length: 50 }, async () => {
          const c = await connect({ port, host: '127.0.0.1', backend });
          c.resume();
          const closed = once(c, 'close');
          c.end('x');
          await closed;
        }),
      );
      if (Date.now() - started > 90_000) t.fail('too slow');
    }
    await until(() => server.connectionCount === 0, 10_000);
    t.is(fdCount(), before);
    await until(() => stats()[backend].poolInUse === poolBefore, 5_000).catch(() => {});
    t.is(stats()[backend].poolInUse, poolBefore, 'pool buffers back to baseline');
    t.is(stats()[backend].openSockets, 1, 'only the listener is open');
    await server.close();
  });
}
