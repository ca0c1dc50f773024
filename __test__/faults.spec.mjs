// Fault injection over real loopback sockets, on every backend: peer RST mid-stream, peer
// process killed with SIGKILL mid-transfer, half-open connections with traffic after the FIN.
// After each: the process is alive, every promise settled, no fd leak, pool buffers and engine
// sockets back to their baseline. Serial: the fd counts need this process to themselves.
import test from 'ava';
import net from 'node:net';
import { connect, createServer } from 'zerosock';
import { backends, once, pattern, sha256, within } from './helpers.mjs';
import {
  backToBaseline,
  closeOf,
  peer,
  pump,
  settleAll,
  snapshot,
  warmUp,
} from './faults-helpers.mjs';

const RESET_CODES = ['ECONNRESET', 'EPIPE'];
const CONNS = 10;

for (const backend of backends) {
  test.serial(`${backend}: peer RST mid-stream while we send (SO_LINGER 0)`, async (t) => {
    await warmUp(backend);
    const base = snapshot(backend);
    // node:net peer: reads a different amount per connection, then resets.
    let resets = 0;
    const peerServer = net.createServer((s) => {
      const limit = (1 + (resets++ % 7)) * 256 * 1024;
      let got = 0;
      s.on('data', (d) => {
        got += d.length;
        if (got >= limit && !s.destroyed) s.resetAndDestroy();
      });
      s.on('error', () => {});
    });
    await new Promise((r) => peerServer.listen(0, '127.0.0.1', r));
    const port = peerServer.address().port;
    const chunk = pattern(64 * 1024, 3);
    const runs = Array.from({ length: CONNS }, async () => {
      const c = await connect({ port, host: '127.0.0.1', backend });
      const closed = closeOf(c);
      const sent = await pump(c, chunk);
      const { error } = await closed;
      t.true(RESET_CODES.includes(error?.code), `error ${error?.code}`);
      t.is(typeof error.syscall, 'string');
      t.throws(() => c.send('after reset'), { code: 'ERR_ZEROSOCK_SOCKET_CLOSED' });
      return sent;
    });
    const results = await settleAll(runs, 30_000, 'RST streams');
    t.deepEqual(
      results.map((r) => r.status),
      Array(CONNS).fill('fulfilled'),
      String(results.find((r) => r.reason)?.reason),
    );
    t.true(results.every((r) => r.value >= 256 * 1024));
    await new Promise((r) => peerServer.close(r));
    await backToBaseline(t, backend, base);
  });

  test.serial(`${backend}: peer RST mid-stream while the server sends and receives`, async (t) => {
    await warmUp(backend);
    const base = snapshot(backend);
    const closes = [];
    const server = createServer({ backend }, (sock) => {
      closes.push(closeOf(sock));
      sock.on('data', () => {});
      void pump(sock, pattern(256 * 1024, 5));
    });
    await server.listen({ port: 0, host: '127.0.0.1' });
    const port = server.address().port;
    // Half the peers read then reset; the other half write then reset.
    const peers = Array.from({ length: CONNS }, (_, i) => {
      const s = net.connect(port, '127.0.0.1');
      s.on('error', () => {});
      const limit = (1 + i) * 200 * 1024;
      let got = 0;
      if (i % 2 === 0) {
        s.on('data', (d) => {
          got += d.length;
          if (got >= limit && !s.destroyed) s.resetAndDestroy();
        });
      } else {
        s.pause();
        const block = Buffer.alloc(64 * 1024, 7);
        s.on('connect', () => {
          let sent = 0;
          const write = () => {
            while (sent < limit) {
              sent += block.length;
              if (!s.write(block)) return void s.once('drain', write);
            }
            setTimeout(() => s.resetAndDestroy(), 5);
          };
          write();
        });
      }
      return new Promise((r) => s.once('close', r));
    });
    await settleAll(peers, 30_000, 'peer closes');
    const results = await settleAll(closes, 30_000, 'server-side closes');
    t.is(results.length, CONNS);
    for (const r of results) {
      const err = r.value.error;
      // A reset seen on receive, on send, or (for a peer that reset with nothing left to
      // read) as the end of the stream: never a crash or a hang.
      if (err) t.true(RESET_CODES.includes(err.code), err.code);
    }
    t.true(
      results.some((r) => r.value.error),
      'at least one reset surfaced as an error',
    );
    await within(server.close(), 10_000, 'server.close');
    await backToBaseline(t, backend, base);
  });

  for (const lib of ['net', 'zerosock']) {
    test.serial(`${backend}: ${lib} client process SIGKILLed mid-transfer`, async (t) => {
      await warmUp(backend);
      const base = snapshot(backend);
      const closes = [];
      let received = 0;
      const server = createServer({ backend }, (sock) => {
        closes.push(closeOf(sock));
        sock.on('data', (v) => (received += v.byteLength));
        void pump(sock, pattern(64 * 1024, 9));
      });
      await server.listen({ port: 0, host: '127.0.0.1' });
      const p = peer(t, ['client', lib, String(server.address().port), '8', backend]);
      await p.next((m) => m.type === 'connected');
      await p.next((m) => m.type === 'progress' && m.received > 4 << 20 && m.sent > 4 << 20);
      p.child.kill('SIGKILL');
      const { signal } = await within(p.exited, 10_000, 'peer exit');
      t.is(signal, 'SIGKILL');
      const results = await settleAll(closes, 20_000, 'server-side closes');
      t.is(results.length, 8);
      for (const r of results) {
        const err = r.value.error;
        if (err) t.true(RESET_CODES.includes(err.code), err.code);
      }
      t.true(received > 4 << 20, `received ${received}`);
      await within(server.close(), 10_000, 'server.close');
      await backToBaseline(t, backend, base);
    });

    test.serial(`${backend}: ${lib} server process SIGKILLed mid-transfer`, async (t) => {
      await warmUp(backend);
      const base = snapshot(backend);
      const p = peer(t, ['server', lib, backend]);
      const { port } = await p.next((m) => m.type === 'listening');
      const clients = await Promise.all(
        Array.from({ length: 8 }, () => connect({ port, host: '127.0.0.1', backend })),
      );
      const closes = clients.map((c) => closeOf(c));
      const pumps = clients.map((c) => {
        c.on('data', () => {});
        return pump(c, pattern(64 * 1024, 11));
      });
      await p.next((m) => m.type === 'progress' && m.received > 4 << 20 && m.sent > 4 << 20);
      p.child.kill('SIGKILL');
      await within(p.exited, 10_000, 'peer exit');
      const results = await settleAll(closes, 20_000, 'client closes');
      for (const r of results) {
        const err = r.value.error;
        if (err) t.true(RESET_CODES.includes(err.code), err.code);
      }
      const sent = await settleAll(pumps, 10_000, 'send loops');
      t.true(sent.every((r) => r.status === 'fulfilled'));
      for (const c of clients) t.true(c.destroyed);
      await backToBaseline(t, backend, base);
    });
  }

  test.serial(`${backend}: half-open — 8 MB flows back after the client's FIN`, async (t) => {
    await warmUp(backend);
    const base = snapshot(backend);
    const response = pattern(8 << 20, 21);
    const want = sha256().update(response).digest('hex');
    const server = createServer({ backend, allowHalfOpen: true }, (sock) => {
      let request = 0;
      sock.on('data', (v) => (request += v.byteLength));
      sock.on('end', async () => {
        // Our peer can no longer send; we still can, and do, in 256 KB pieces.
        t.is(request, 1 << 20);
        for (let at = 0; at < response.length; at += 256 * 1024) {
          if (!sock.send(response.subarray(at, at + 256 * 1024))) await once(sock, 'drain');
        }
        sock.end();
      });
    });
    await server.listen({ port: 0, host: '127.0.0.1' });
    const port = server.address().port;
    const one = async () => {
      const c = await connect({ port, host: '127.0.0.1', backend });
      const h = sha256();
      let n = 0;
      c.on('data', (v) => {
        h.update(v);
        n += v.byteLength;
      });
      const closed = closeOf(c);
      c.end(pattern(1 << 20, 1));
      t.true(c.writableEnded);
      const { error } = await closed;
      t.is(error, null);
      t.is(n, response.length);
      t.is(h.digest('hex'), want);
    };
    const results = await settleAll(Array.from({ length: 4 }, one), 60_000, 'half-open exchanges');
    t.true(
      results.every((r) => r.status === 'fulfilled'),
      String(results.find((r) => r.reason)?.reason),
    );
    await within(server.close(), 10_000, 'server.close');
    await backToBaseline(t, backend, base);
  });

  test.serial(
    `${backend}: half-open — client keeps sending 4 MB after the server's FIN`,
    async (t) => {
      await warmUp(backend);
      const base = snapshot(backend);
      const body = pattern(4 << 20, 33);
      const want = sha256().update(body).digest('hex');
      const verdicts = [];
      const peerServer = net.createServer({ allowHalfOpen: true }, (s) => {
        const h = sha256();
        let n = 0;
        s.on('data', (d) => {
          h.update(d);
          n += d.length;
        });
        verdicts.push(
          new Promise((resolve) =>
            s.on('end', () => {
              resolve({ n, hash: h.digest('hex') });
              s.destroy();
            }),
          ),
        );
        s.end('bye'); // FIN first, then keep reading
      });
      await new Promise((r) => peerServer.listen(0, '127.0.0.1', r));
      const c = await connect({
        port: peerServer.address().port,
        host: '127.0.0.1',
        backend,
        allowHalfOpen: true,
      });
      let greeting = '';
      c.on('data', (v) => (greeting += Buffer.from(v).toString()));
      const closed = closeOf(c);
      await within(once(c, 'end'), 10_000, "server's FIN");
      t.is(greeting, 'bye');
      t.false(c.writableEnded, 'allowHalfOpen keeps our side open');
      for (let at = 0; at < body.length; at += 64 * 1024) {
        if (!c.send(body.subarray(at, at + 64 * 1024))) await once(c, 'drain');
      }
      c.end();
      const [verdict] = await settleAll(verdicts, 20_000, 'peer verdict');
      t.deepEqual(verdict.value, { n: body.length, hash: want });
      const { error } = await within(closed, 10_000, 'close');
      t.is(error, null);
      await new Promise((r) => peerServer.close(r));
      await backToBaseline(t, backend, base);
    },
  );

  test.serial(
    `${backend}: a silent half-open peer is cleaned up by closeAllConnections`,
    async (t) => {
      await warmUp(backend);
      const base = snapshot(backend);
      const closes = [];
      const server = createServer({ backend, allowHalfOpen: true }, (sock) => {
        closes.push(closeOf(sock));
        sock.on('data', () => {});
        sock.on('end', () => sock.send('half-open reply')); // never ends its side
      });
      await server.listen({ port: 0, host: '127.0.0.1' });
      const peers = [];
      for (let i = 0; i < 20; i++) {
        const s = net.connect({
          port: server.address().port,
          host: '127.0.0.1',
          allowHalfOpen: true,
        });
        s.on('error', () => {});
        s.on('data', () => {});
        s.on('connect', () => s.end('only this'));
        peers.push(new Promise((r) => s.once('close', r)));
      }
      await new Promise((r) => setTimeout(r, 300));
      t.is(server.connectionCount, 20, 'half-open connections stay open');
      const closing = server.close();
      server.closeAllConnections();
      await within(closing, 10_000, 'server.close');
      await settleAll(closes, 10_000, 'server-side closes');
      await settleAll(peers, 10_000, 'peer closes');
      await backToBaseline(t, backend, base);
    },
  );
}
