// AbortSignal on connect() and listen() (and HttpServer#listen): aborted before and during,
// each rejects with an AbortError and leaves no fd behind. Serial: fd counts.
import test from 'ava';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { connect, createHttpServer, createServer, stats } from 'zerosock';
import { backends, fdCount, once, until, within } from './helpers.mjs';

const host = '127.0.0.1';

/**
 * A listener that never accepts (its process blocks right after listen) with a full accept
 * queue: a further connect() stays in SYN-SENT until it times out — or is aborted.
 */
let blackhole;
test.before(async () => {
  const code = `
    const s = require('node:net').createServer();
    s.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
      process.stdout.write(String(s.address().port) + '\\n');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60000);
    });`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = await once(child.stdout, 'data', 10_000);
  const port = Number(String(line).trim());
  // Fill the accept queue (backlog 1 holds 2) with connections nobody accepts.
  const fillers = [];
  for (let i = 0; i < 4; i++) {
    const s = net.connect(port, host);
    s.on('error', () => {});
    fillers.push(s);
  }
  await new Promise((r) => setTimeout(r, 300));
  blackhole = { child, port, fillers };
});

test.after.always(() => {
  for (const s of blackhole?.fillers ?? []) s.destroy();
  blackhole?.child.kill('SIGKILL');
});

async function settled(backend, fdBefore) {
  await until(() => fdCount() === fdBefore, 5_000).catch(() => {});
  await until(() => (stats()[backend]?.openSockets ?? 0) === 0, 5_000).catch(() => {});
}

function isAbortError(t, err) {
  t.is(err?.name, 'AbortError');
  t.is(err?.code, 'ABORT_ERR');
}

for (const backend of backends) {
  test.serial(`${backend}: connect({ signal }) aborted before the call`, async (t) => {
    const ac = new AbortController();
    ac.abort(new Error('why'));
    const before = fdCount();
    const err = await t.throwsAsync(
      connect({ port: blackhole.port, host, backend, signal: ac.signal }),
    );
    isAbortError(t, err);
    t.is(err.cause?.message, 'why');
    t.is(fdCount(), before);
  });

  test.serial(
    `${backend}: connect({ signal }) aborted during the connect (SYN-SENT)`,
    async (t) => {
      // Warm the engine so its own fds are in the baseline.
      const warm = createServer({ backend });
      await warm.listen({ port: 0, host });
      await warm.close();
      const before = fdCount();
      const results = [];
      for (let i = 0; i < 5; i++) {
        const ac = new AbortController();
        const p = connect({ port: blackhole.port, host, backend, signal: ac.signal });
        let settledEarly = false;
        p.then(
          () => (settledEarly = true),
          () => (settledEarly = true),
        );
        // Long enough for the connect to be in flight in the kernel, far below SYN retries.
        await new Promise((r) => setTimeout(r, 100));
        t.false(settledEarly, 'the connect is still pending (the listener does not accept)');
        t.true(fdCount() > before, 'a socket is open while connecting');
        ac.abort();
        results.push(
          await within(
            p.then(
              () => null,
              (e) => e,
            ),
            5_000,
            'aborted connect',
          ),
        );
      }
      for (const err of results) isAbortError(t, err);
      await settled(backend, before);
      t.is(fdCount(), before, 'no fd leaked');
      t.is(stats()[backend].openSockets, 0, 'engine: nothing open');
    },
  );

  test.serial(
    `${backend}: a connect that succeeded is not affected by a later abort`,
    async (t) => {
      const server = createServer({ backend }, (s) => s.on('data', (v) => s.send(v)));
      await server.listen({ port: 0, host });
      const ac = new AbortController();
      const c = await connect({ port: server.address().port, host, backend, signal: ac.signal });
      ac.abort();
      const got = new Promise((resolve) => c.once('data', (v) => resolve(Buffer.from(v))));
      c.send('still open');
      t.is((await got).toString(), 'still open');
      c.end();
      await once(c, 'close');
      server.closeAllConnections();
      await server.close();
    },
  );

  test.serial(
    `${backend}: listen({ signal }) aborted before, and abort after listening closes`,
    async (t) => {
      const before = fdCount();
      const ac = new AbortController();
      ac.abort();
      const server = createServer({ backend });
      isAbortError(t, await t.throwsAsync(server.listen({ port: 0, host, signal: ac.signal })));
      t.false(server.listening);

      const ac2 = new AbortController();
      const s2 = createServer({ backend });
      await s2.listen({ port: 0, host, signal: ac2.signal });
      t.true(s2.listening);
      const closed = once(s2, 'close', 5_000);
      ac2.abort();
      await closed;
      t.false(s2.listening);

      const ac3 = new AbortController();
      const h = createHttpServer((req, res) => res.end('x'), { backend });
      ac3.abort();
      isAbortError(t, await t.throwsAsync(h.listen({ port: 0, host, signal: ac3.signal })));
      const ac4 = new AbortController();
      const h2 = createHttpServer((req, res) => res.end('x'), { backend });
      await h2.listen({ port: 0, host, signal: ac4.signal });
      const hClosed = once(h2, 'close', 5_000);
      ac4.abort();
      await hClosed;
      t.false(h2.listening);
      await settled(backend, before);
      t.is(fdCount(), before, 'no fd leaked');
    },
  );
}
