// The engine over real sockets on loopback: echo and streaming integrity, on every backend.
import test from 'ava';
import { connect, createServer } from 'zerosock';
import { backends, once, pattern, sha256, within } from './helpers.mjs';

for (const backend of backends) {
  test(`${backend}: echo of random sizes 1 B..1 MB keeps every byte in order`, async (t) => {
    const server = createServer({ backend }, (sock) => {
      sock.on('data', (view) => sock.send(view));
      sock.on('end', () => sock.end());
    });
    await server.listen({ port: 0, host: '127.0.0.1' });
    const { port } = server.address();
    const client = await connect({ port, host: '127.0.0.1', backend });
    t.is(client.backend, backend);
    const sizes = [1, 2, 7, 100, 1000, 4096, 65535, 65536, 65537, 300_000, 1 << 20];
    for (let i = 0; i < 40; i++) sizes.push(1 + Math.floor(Math.random() ** 3 * (1 << 20)));
    const sent = sha256();
    const got = sha256();
    let total = 0;
    let received = 0;
    client.on('data', (view) => {
      got.update(view);
      received += view.byteLength;
    });
    const ended = once(client, 'end', 60_000);
    for (const [i, n] of sizes.entries()) {
      const chunk = pattern(n, i + 1);
      sent.update(chunk);
      total += n;
      if (!client.send(chunk)) await once(client, 'drain');
    }
    client.end();
    await within(ended, 60_000, 'echo');
    t.is(received, total);
    t.is(got.digest('hex'), sent.digest('hex'));
    await within(server.close(), 10_000, 'server.close');
  });

  test(`${backend}: 1 GB one-way stream, SHA-256 equal on both sides`, async (t) => {
    const GB = 1 << 30;
    const chunk = pattern(1 << 20, 7);
    const expected = sha256();
    for (let i = 0; i < GB / chunk.length; i++) expected.update(chunk);
    const want = expected.digest('hex');
    let serverBytes = 0;
    const serverHash = sha256();
    const done = new Promise((resolve) => {
      const server = createServer({ backend }, (sock) => {
        sock.on('data', (view) => {
          serverHash.update(view);
          serverBytes += view.byteLength;
        });
        sock.on('end', () => resolve(server));
      });
      server.listen({ port: 0, host: '127.0.0.1' }).then(async () => {
        const client = await connect({ port: server.address().port, host: '127.0.0.1', backend });
        let sent = 0;
        while (sent < GB) {
          sent += chunk.length;
          if (!client.send(chunk)) await once(client, 'drain', 30_000);
        }
        client.end();
      });
    });
    const server = await within(done, 120_000, '1 GB stream');
    t.is(serverBytes, GB);
    t.is(serverHash.digest('hex'), want);
    server.closeAllConnections();
    await server.close();
  });

  test(`${backend}: 1 000 concurrent connections, each with its own checksum`, async (t) => {
    const N = 1000;
    const server = createServer({ backend }, (sock) => {
      sock.on('data', (view) => sock.send(view));
      sock.on('end', () => sock.end());
    });
    await server.listen({ port: 0, host: '127.0.0.1', backlog: 2048 });
    const { port } = server.address();
    const one = async (i) => {
      const c = await connect({ port, host: '127.0.0.1', backend });
      const payload = pattern(1 + ((i * 7919) % 20_000), i + 11);
      const h = sha256();
      let n = 0;
      c.on('data', (v) => {
        h.update(v);
        n += v.byteLength;
      });
      const ended = once(c, 'close', 60_000);
      c.send(payload);
      c.end();
      await ended;
      return n === payload.length && h.digest('hex') === sha256().update(payload).digest('hex');
    };
    const results = await within(
      Promise.all(Array.from({ length: N }, (_, i) => one(i))),
      90_000,
      '1000 connections',
    );
    t.is(results.filter(Boolean).length, N);
    await within(server.close(), 10_000, 'server.close');
  });

  test(`${backend}: IPv6 loopback works`, async (t) => {
    const server = createServer({ backend }, (sock) => {
      sock.on('data', (view) => sock.send(view));
      sock.on('end', () => sock.end());
    });
    await server.listen({ port: 0, host: '::1' });
    t.is(server.address().family, 'IPv6');
    const c = await connect({ port: server.address().port, host: '::1', backend });
    t.is(c.remoteAddress, '::1');
    let got = '';
    c.on('data', (v) => (got += Buffer.from(v).toString()));
    c.send('hello over ::1');
    c.end();
    await once(c, 'close');
    t.is(got, 'hello over ::1');
    await server.close();
  });
}
