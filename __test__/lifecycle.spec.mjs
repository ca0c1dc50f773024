// Connection lifecycle: half-close, destroy, server close, refused, reset, fd leaks.
import test from 'ava';
import net from 'node:net';
import { connect, createServer } from 'zerosock';
import { backends, fdCount, once, until, within } from './helpers.mjs';

async function echoServer(backend, opts = {}) {
  const server = createServer({ backend, ...opts }, (sock) => {
    sock.on('data', (v) => sock.send(v));
    sock.on('end', () => sock.end());
  });
  await server.listen({ port: 0, host: '127.0.0.1' });
  return server;
}

for (const backend of backends) {
  test(`${backend}: half-close — after end() the peer can still send`, async (t) => {
    const server = createServer({ backend, allowHalfOpen: true }, (sock) => {
      let got = '';
      sock.on('data', (v) => (got += Buffer.from(v).toString()));
      sock.on('end', () => {
        // Our peer has ended its side; we keep sending after its FIN.
        setTimeout(() => sock.end(`late reply to ${got}`), 20);
      });
    });
    await server.listen({ port: 0, host: '127.0.0.1' });
    const c = await connect({
      port: server.address().port,
      host: '127.0.0.1',
      backend,
      allowHalfOpen: true,
    });
    let reply = '';
    c.on('data', (v) => (reply += Buffer.from(v).toString()));
    c.end('question');
    await within(once(c, 'end'), 10_000, 'end');
    t.is(reply, 'late reply to question');
    c.destroy();
    await server.close();
  });

  test(`${backend}: connect refused is a Node-style ECONNREFUSED`, async (t) => {
    const probe = net.createServer();
    await new Promise((r) => probe.listen(0, '127.0.0.1', r));
    const port = probe.address().port;
    await new Promise((r) => probe.close(r));
    const err = await t.throwsAsync(connect({ port, host: '127.0.0.1', backend }));
    t.is(err.code, 'ECONNREFUSED');
    t.is(err.syscall, 'connect');
    t.is(err.errno, -111);
    t.is(err.port, port);
    t.is(err.address, '127.0.0.1');
  });

  test(`${backend}: peer reset mid-stream is ECONNRESET`, async (t) => {
    const server = net.createServer((s) => {
      s.once('data', () => s.resetAndDestroy());
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    const c = await connect({ port: server.address().port, host: '127.0.0.1', backend });
    const closed = new Promise((resolve) => c.once('close', resolve));
    c.send('hello');
    const [err] = await within(once(c, 'error'), 10_000, 'reset');
    t.true(['ECONNRESET', 'EPIPE'].includes(err.code), err.code);
    t.is(typeof err.syscall, 'string');
    await closed;
    server.close();
  });

  test(`${backend}: destroy() with sends and receives in flight closes cleanly`, async (t) => {
    const server = createServer({ backend }, (sock) => {
      const big = Buffer.alloc(4 << 20, 1);
      sock.send(big);
      sock.on('error', () => {});
    });
    await server.listen({ port: 0, host: '127.0.0.1' });
    const c = await connect({ port: server.address().port, host: '127.0.0.1', backend });
    c.on('data', () => {});
    c.send(Buffer.alloc(8 << 20, 2));
    const closed = once(c, 'close');
    c.destroy();
    await within(closed, 10_000, 'close after destroy');
    t.true(c.destroyed);
    server.closeAllConnections();
    await within(server.close(), 10_000, 'server close');
  });

  test(`${backend}: server close() waits for open connections; closeAllConnections ends them`, async (t) => {
    const server = await echoServer(backend);
    const port = server.address().port;
    const clients = await Promise.all(
      Array.from({ length: 20 }, () => connect({ port, host: '127.0.0.1', backend })),
    );
    await until(() => server.connectionCount === 20);
    let closed = false;
    const closing = server.close().then(() => (closed = true));
    await new Promise((r) => setTimeout(r, 50));
    t.false(closed);
    await t.throwsAsync(connect({ port, host: '127.0.0.1', backend }), { code: 'ECONNREFUSED' });
    const clientCloses = clients.map((c) => once(c, 'close'));
    server.closeAllConnections();
    await within(closing, 10_000, 'server close');
    await within(Promise.all(clientCloses), 10_000, 'client closes');
    t.true(closed);
  });
}

test('an engine does not keep the process alive once nothing is open', async (t) => {
  const { execFile } = await import('node:child_process');
  const script = `
    const { createServer, connect } = require('zerosock');
    (async () => {
      const server = createServer({}, (s) => {
        s.on('data', () => {});
        s.on('end', () => s.end());
      });
      await server.listen({ port: 0, host: '127.0.0.1' });
      const c = await connect({ port: server.address().port, host: '127.0.0.1' });
      c.end('bye');
      await new Promise((r) => c.on('close', r));
      await server.close();
      console.log('closed');
    })();
  `;
  const started = Date.now();
  const out = await new Promise((resolve, reject) =>
    execFile(process.execPath, ['-e', script], { timeout: 15_000 }, (err, stdout) =>
      err ? reject(err) : resolve(stdout),
    ),
  );
  t.is(out.trim(), 'closed');
  t.true(Date.now() - started < 15_000);
});

for (const backend of backends) {
  test(`${backend}: a slow reader does not grow the sender's memory without bound`, async (t) => {
    // The receiver pauses; the sender pushes until send() says stop and waits for 'drain'.
    let receiver;
    const server = createServer({ backend }, (s) => {
      receiver = s;
      s.pause();
    });
    await server.listen({ port: 0, host: '127.0.0.1' });
    const c = await connect({ port: server.address().port, host: '127.0.0.1', backend });
    const chunk = Buffer.alloc(64 * 1024, 9);
    let accepted = 0;
    const deadline = Date.now() + 3000;
    while (Date.now() < deadline) {
      const more = c.send(chunk);
      accepted += chunk.length;
      if (!more) {
        const drained = await once(c, 'drain', 500).then(
          () => true,
          () => false,
        );
        if (!drained) break;
      }
    }
    // Bounded: what send() accepted is what the kernel buffers hold plus one high-water mark.
    t.true(c.writableLength <= 2 * 1024 * 1024, `pending ${c.writableLength}`);
    t.true(accepted < 256 * 1024 * 1024, `accepted ${accepted}`);
    const stats = c.engine.native.stats();
    t.true(stats.poolInUse * 64 * 1024 < 64 * 1024 * 1024, `pool in use ${stats.poolInUse}`);
    let got = 0;
    receiver.on('data', (v) => (got += v.byteLength));
    receiver.resume();
    c.end();
    await within(once(receiver, 'end'), 20_000, 'drain after resume');
    t.is(got, accepted);
    await server.close();
  });
}
