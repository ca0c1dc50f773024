// Multi-core: startWorkers() runs N worker_threads, each with its own engine, all listening on
// one port with SO_REUSEPORT; the kernel spreads connections; close() shuts every worker down
// gracefully. Pool buffers handed to workers come back to their owner (deferred free).
import test from 'ava';
import http from 'node:http';
import { BufferPool, connect, createServer, startWorkers, WorkerStartError } from 'zerosock';
import { backends, once, pattern, sha256, until, within } from './helpers.mjs';

const host = '127.0.0.1';
const WORKER = new URL('./cluster-worker.mjs', import.meta.url);

/** A port nobody else takes meanwhile: held by a reusePort listener until the workers bind it. */
async function sharedPort(backend) {
  const hold = createServer({ backend });
  await hold.listen({ port: 0, host, reusePort: true });
  return { port: hold.address().port, release: () => hold.close() };
}

async function start(t, backend, workers, extra = {}) {
  const { port, release } = await sharedPort(backend);
  const group = await within(
    startWorkers(WORKER, { workers, workerData: { port, backend, ...extra } }),
    30_000,
    'workers ready',
  );
  await release();
  t.teardown(() => group.close({ timeoutMs: 100 }));
  return { group, port };
}

for (const backend of backends) {
  test.serial(
    `${backend}: 4 workers share a port; 1 000 connections spread; close() ends all`,
    async (t) => {
      const { group, port } = await start(t, backend, 4);
      t.is(group.workers.length, 4);
      t.true(group.workers.every((w) => w.address.port === port));
      const clients = [];
      let echoed = 0;
      for (let batch = 0; batch < 10; batch++) {
        const socks = await Promise.all(
          Array.from({ length: 100 }, () => connect({ port, host, backend })),
        );
        await Promise.all(
          socks.map(async (c, i) => {
            c.on('error', () => {});
            // Copy inside the callback: the view is recycled when it returns.
            const got = new Promise((resolve) => c.once('data', (v) => resolve(Buffer.from(v))));
            c.send(`ping ${batch}/${i}`);
            if ((await got).toString() === `ping ${batch}/${i}`) echoed++;
          }),
        );
        clients.push(...socks);
      }
      t.is(echoed, 1000);
      let clientsClosed = 0;
      for (const c of clients) c.once('close', () => clientsClosed++);
      const started = Date.now();
      const reports = await within(group.close({ timeoutMs: 500 }), 20_000, 'group close');
      // Connections were idle and open: the workers waited 500 ms, then closed them.
      t.true(Date.now() - started >= 450);
      await until(() => clientsClosed === 1000, 10_000);
      t.is(clientsClosed, 1000, 'every client connection was closed by the server side');
      const accepted = reports.map((r) => r.report.accepted);
      t.is(
        accepted.reduce((a, b) => a + b, 0),
        1000,
      );
      t.true(
        accepted.every((n) => n > 0),
        `every worker served some: ${accepted.join(', ')}`,
      );
      t.true(accepted.every((n) => n < 1000));
      t.true(reports.every((r) => r.exitCode === 0 && !r.terminated && !r.graceful));
      t.true(reports.every((r) => r.report.openSockets === 0));
      t.deepEqual(new Set(reports.map((r) => r.report.threadId)).size, 4, 'four threads');
      // Nobody listens any more.
      const refused = await connect({ port, host, backend }).then(
        (c) => (c.destroy(), null),
        (e) => e,
      );
      t.is(refused?.code, 'ECONNREFUSED');
    },
  );

  test.serial(`${backend}: graceful close waits for connections that finish in time`, async (t) => {
    const { group, port } = await start(t, backend, 2);
    const clients = await Promise.all(
      Array.from({ length: 50 }, () => connect({ port, host, backend })),
    );
    // One round trip each: every connection is accepted by a worker before the close starts
    // (connections still in a listener's accept queue are reset when it closes, as with
    // node:net).
    await Promise.all(
      clients.map((c) => {
        c.on('error', () => {});
        const got = new Promise((resolve) => c.once('data', resolve));
        c.send('hello');
        return got;
      }),
    );
    for (const c of clients) c.resume();
    const closing = group.close({ timeoutMs: 15_000 });
    // The clients finish their work and leave on their own, well within the timeout.
    await new Promise((r) => setTimeout(r, 200));
    await Promise.all(
      clients.map((c) => {
        const closed = once(c, 'close');
        c.end('bye');
        return closed;
      }),
    );
    const reports = await within(closing, 10_000, 'graceful close');
    t.true(reports.every((r) => r.graceful && r.exitCode === 0 && !r.terminated));
    t.is(
      reports.reduce((n, r) => n + r.report.accepted, 0),
      50,
    );
  });

  test.serial(
    `${backend}: HTTP in 2 workers: node:http keep-alive requests served by both`,
    async (t) => {
      const { group, port } = await start(t, backend, 2, { mode: 'http' });
      const seen = new Map();
      for (let i = 0; i < 200; i++) {
        // A fresh connection each time (agent: false) so the kernel hashes each anew.
        const body = await new Promise((resolve, reject) => {
          http
            .get({ host, port, path: `/r${i}`, agent: false }, (res) => {
              let s = '';
              res.on('data', (d) => (s += d));
              res.on('end', () => resolve(s));
            })
            .on('error', reject);
        });
        const [, w, path] = body.split(' ');
        t.is(path, `/r${i}`);
        seen.set(w, (seen.get(w) ?? 0) + 1);
      }
      t.is(seen.size, 2, `both workers answered: ${JSON.stringify([...seen])}`);
      const reports = await within(group.close({ timeoutMs: 5_000 }), 15_000, 'close');
      t.true(reports.every((r) => r.exitCode === 0 && !r.terminated));
    },
  );

  test.serial(
    `${backend}: pool buffers released in workers go back to the owner thread`,
    async (t) => {
      const { group } = await start(t, backend, 2);
      const pool = new BufferPool({ size: 4096, count: 64 });
      const N = 48;
      const expected = [];
      const done = new Map();
      const replies = new Promise((resolve) => {
        for (const w of group.workers) {
          w.worker.on('message', (m) => {
            if (m?.type !== 'buffer-done') return;
            done.set(m.id, m);
            if (done.size === N) resolve();
          });
        }
      });
      for (let id = 0; id < N; id++) {
        const view = pool.acquire();
        view.set(pattern(4096, id + 1));
        expected.push(sha256().update(view).digest('hex'));
        const token = pool.transfer(view);
        group.workers[id % 2].worker.postMessage({ type: 'buffer', id, token });
      }
      await within(replies, 10_000, 'workers released the buffers');
      for (let id = 0; id < N; id++) t.is(done.get(id).sha, expected[id], `buffer ${id} contents`);
      t.true(
        [...done.values()].every((m) => m.deferred >= 1),
        'each release was deferred',
      );
      const s = pool.stats();
      t.is(s.transferred, N);
      t.is(s.returnedViaRing + s.returnedToShared, N, 'every buffer was sent back to its owner');
      t.true(s.returnedViaRing > 0, 'through the owner’s return ring');
      // The owner takes them back on drain() (or its next refill).
      const drained = pool.drain();
      const after = pool.stats();
      t.is(after.drainedFromRing, s.returnedViaRing, `drained ${drained}`);
      t.is(after.inUse, 0);
      // And they are usable again here.
      const again = Array.from({ length: N }, () => pool.acquire());
      for (const v of again) pool.release(v);
      t.is(pool.stats().capacity, s.capacity, 'no growth: the same buffers came back');
      await group.close({ timeoutMs: 1_000 });
    },
  );
}

test('a worker that fails before it is ready rejects startWorkers and stops the others', async (t) => {
  const bad = new URL(
    'data:text/javascript,' +
      encodeURIComponent(
        "import { workerData } from 'node:worker_threads';" +
          "if (process.env.ZEROSOCK_WORKER_INDEX === '1') throw new Error('boom');" +
          'setInterval(() => {}, 1000);',
      ),
  );
  const err = await t.throwsAsync(startWorkers(bad, { workers: 3, readyTimeoutMs: 10_000 }));
  t.true(err instanceof WorkerStartError);
  t.is(err.code, 'ERR_ZEROSOCK_WORKER');
  t.regex(err.message, /worker 1 failed: boom/);
});
