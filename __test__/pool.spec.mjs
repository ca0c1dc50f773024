// BufferPool: views into native pool memory, recycled without garbage; misuse is a typed error
// that leaves the pool intact; buffers released in a worker_thread go back to their owner.
import test from 'ava';
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { BufferPool, ZerosockError } from 'zerosock';

const require = createRequire(import.meta.url);
const entry = require.resolve('zerosock');

/** Runs `code` (an ES module importing 'zerosock') in `node --expose-gc`; returns its JSON output. */
function runChild(code) {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--expose-gc', '--input-type=module', '-e', code],
      { cwd: new URL('..', import.meta.url), timeout: 120_000 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`child failed: ${err.message}\n${stderr}`));
        else resolve(JSON.parse(stdout));
      },
    );
  });
}

/** Runs `body` (CommonJS, with `BufferPool`, `data` and `reply(value)` in scope) in a worker. */
function inWorker(body, data) {
  const code = `
    const { parentPort, workerData: data } = require('node:worker_threads');
    const { BufferPool } = require(${JSON.stringify(entry)});
    const reply = (value) => parentPort.postMessage(value);
    ${body}`;
  return new Promise((resolve, reject) => {
    const w = new Worker(code, { eval: true, workerData: data });
    let result;
    w.on('message', (m) => (result = m));
    w.on('error', reject);
    w.on('exit', (code) =>
      code === 0 ? resolve(result) : reject(new Error(`worker exit ${code}`)),
    );
  });
}

const codes = (t, fn, code) => t.throws(fn, { instanceOf: ZerosockError, code });

test('1 million acquire/release: stats back to baseline, no heap growth, no misses', async (t) => {
  const out = await runChild(`
    import { BufferPool } from 'zerosock';
    import { PerformanceObserver } from 'node:perf_hooks';
    import v8 from 'node:v8';
    const heap = () => (global.gc(), global.gc(), v8.getHeapStatistics().used_heap_size);
    const cycles = (pool, n) => {
      for (let i = 0; i < n; i++) {
        const v = pool.acquire();
        v[i & 0xffff] = i;
        pool.release(v);
      }
    };
    const N = 1_000_000;
    const pool = new BufferPool({ size: 64 * 1024, count: 64 });
    cycles(pool, 50_000);
    const base = pool.stats();
    const h0 = heap();
    const t0 = process.hrtime.bigint();
    cycles(pool, N);
    const ns = Number(process.hrtime.bigint() - t0) / N;
    const h1 = heap();
    const after = pool.stats();
    // Many buffers out at once: the thread cache spills to and refills from native memory.
    const held = [];
    for (let round = 0; round < 20_000; round++) {
      for (let k = 0; k < 40; k++) held.push(pool.acquire());
      while (held.length) pool.release(held.pop());
    }
    const h2 = heap();
    const churn = pool.stats();
    // reuseViews: the steady state allocates nothing at all, so no GC runs.
    const reusing = new BufferPool({ size: 64 * 1024, count: 64, reuseViews: true });
    cycles(reusing, 50_000);
    global.gc();
    let gcs = 0;
    const obs = new PerformanceObserver((list) => (gcs += list.getEntries().length));
    obs.observe({ entryTypes: ['gc'] });
    const t1 = process.hrtime.bigint();
    cycles(reusing, N);
    const nsReuse = Number(process.hrtime.bigint() - t1) / N;
    await new Promise((r) => setTimeout(r, 50));
    obs.disconnect();
    const reuse = reusing.stats();
    console.log(JSON.stringify({ N, ns, nsReuse, gcs, h0, h1, h2, base, after, churn, reuse }));
  `);
  const { N, base, after, churn } = out;
  t.log(`${out.ns.toFixed(1)} ns per acquire+release; heap ${out.h0} -> ${out.h1} -> ${out.h2}`);
  t.log(`reuseViews: ${out.nsReuse.toFixed(1)} ns per acquire+release, ${out.gcs} GC cycles`);
  t.is(out.gcs, 0, 'reuseViews: no GC at all in the steady state');
  t.is(out.reuse.inUse, 0);
  t.is(out.reuse.misses, 1);
  t.is(after.acquired - base.acquired, N);
  t.is(after.released - base.released, N);
  t.is(after.recycledFromCache - base.recycledFromCache, N, 'every acquire hits the cache');
  t.is(after.misses, base.misses);
  for (const k of ['inUse', 'capacity', 'grows', 'poolInUse', 'cached', 'regions', 'exhausted']) {
    t.is(after[k], base[k], k);
  }
  t.is(base.inUse, 0);
  t.is(churn.inUse, 0);
  t.is(churn.acquired, churn.released);
  t.is(churn.highWater, 40);
  t.is(churn.capacity, base.capacity, 'no growth: 40 < count');
  t.true(churn.misses > after.misses, 'the churn went through native refills');
  // Only the views are allocated, and they are garbage at once: the heap must not grow.
  t.true(out.h1 - out.h0 < 256 * 1024, `heap grew by ${out.h1 - out.h0} bytes`);
  t.true(out.h2 - out.h0 < 256 * 1024, `heap grew by ${out.h2 - out.h0} bytes`);
});

test('views are whole buffers of pool memory, distinct while lent, reused after release', (t) => {
  const pool = new BufferPool({ size: 4096, count: 8 });
  t.is(pool.size, 4096);
  t.is(pool.count, 8);
  const views = Array.from({ length: 8 }, () => pool.acquire());
  const offsets = new Set(views.map((v) => v.byteOffset));
  t.is(offsets.size, 8);
  for (const v of views) {
    t.is(v.byteLength, 4096);
    t.is(v.buffer, views[0].buffer, 'one ArrayBuffer per region');
    t.is(v.byteOffset % 4096, 0);
  }
  views.forEach((v, i) => v.fill(i));
  views.forEach((v, i) =>
    t.true(
      v.every((b) => b === i),
      'no two views overlap',
    ),
  );
  t.is(pool.stats().inUse, 8);
  t.is(pool.stats().highWater, 8);
  const last = views.pop();
  pool.release(last);
  const again = pool.acquire();
  t.is(again.byteOffset, last.byteOffset, 'LIFO: the last released comes back first');
  t.not(again, last);
  views.push(again);
  for (const v of views) pool.release(v);
  const s = pool.stats();
  t.is(s.inUse, 0);
  t.is(s.acquired, 9);
  t.is(s.released, 9);
});

test('reuseViews lends the same view object again; double release is still refused', (t) => {
  const pool = new BufferPool({ size: 256, count: 4, reuseViews: true });
  const a = pool.acquire();
  pool.release(a);
  codes(t, () => pool.release(a), 'ERR_ZEROSOCK_BUFFER_RELEASED');
  const b = pool.acquire();
  t.is(b, a, 'the same object');
  const c = pool.acquire();
  t.not(c, a);
  pool.release(b);
  pool.release(c);
  codes(t, () => pool.release(c), 'ERR_ZEROSOCK_BUFFER_RELEASED');
  codes(t, () => new BufferPool({ size: 64, count: 1, reuseViews: 1 }), 'ERR_INVALID_ARG_TYPE');
  t.is(pool.stats().inUse, 0);
});

test('a pool grows by count buffers at a time and stops at maxCount', (t) => {
  const pool = new BufferPool({ size: 64, count: 4, maxCount: 10 });
  const views = [];
  for (let i = 0; i < 10; i++) views.push(pool.acquire());
  const s = pool.stats();
  t.is(s.capacity, 10);
  t.is(s.regions, 3);
  t.is(s.grows, 2);
  t.is(new Set(views.map((v) => v.buffer)).size, 3, 'one ArrayBuffer per region');
  codes(t, () => pool.acquire(), 'ERR_ZEROSOCK_POOL_EXHAUSTED');
  t.true(pool.stats().exhausted >= 1);
  t.is(pool.stats().inUse, 10, 'a refused acquire changes nothing');
  pool.release(views.pop());
  const v = pool.acquire();
  t.is(v.byteLength, 64);
  views.push(v);
  for (const x of views) pool.release(x);
  t.is(pool.stats().inUse, 0);
});

test('exhausted pool with a hard limit throws ERR_ZEROSOCK_POOL_EXHAUSTED, then recovers', (t) => {
  const pool = new BufferPool({ size: 1024, count: 4, maxCount: 4 });
  const held = [pool.acquire(), pool.acquire(), pool.acquire(), pool.acquire()];
  for (let i = 0; i < 3; i++) codes(t, () => pool.acquire(), 'ERR_ZEROSOCK_POOL_EXHAUSTED');
  pool.release(held[2]);
  held[2] = pool.acquire();
  codes(t, () => pool.acquire(), 'ERR_ZEROSOCK_POOL_EXHAUSTED');
  for (const v of held) pool.release(v);
  const again = Array.from({ length: 4 }, () => pool.acquire());
  t.is(new Set(again.map((v) => v.byteOffset)).size, 4, 'all four are usable again');
});

test('double release and stale views: ERR_ZEROSOCK_BUFFER_RELEASED, pool unharmed', (t) => {
  const pool = new BufferPool({ size: 256, count: 8 });
  const v = pool.acquire();
  pool.release(v);
  codes(t, () => pool.release(v), 'ERR_ZEROSOCK_BUFFER_RELEASED');
  const again = pool.acquire();
  t.is(again.byteOffset, v.byteOffset, 'same buffer lent again');
  codes(t, () => pool.release(v), 'ERR_ZEROSOCK_BUFFER_RELEASED');
  codes(t, () => pool.transfer(v), 'ERR_ZEROSOCK_BUFFER_RELEASED');
  pool.release(again);
  const s = pool.stats();
  t.is(s.inUse, 0);
  t.is(s.acquired, 2);
  t.is(s.released, 2);
  // Every buffer is still handed out exactly once.
  const all = Array.from({ length: 8 }, () => pool.acquire());
  t.is(new Set(all.map((x) => x.byteOffset)).size, 8);
  for (const x of all) pool.release(x);
});

test('foreign views: ERR_ZEROSOCK_BAD_BUFFER; non-views: ERR_INVALID_ARG_TYPE', (t) => {
  const pool = new BufferPool({ size: 512, count: 4 });
  const other = new BufferPool({ size: 512, count: 4 });
  const mine = pool.acquire();
  const theirs = other.acquire();
  codes(t, () => pool.release(theirs), 'ERR_ZEROSOCK_BAD_BUFFER');
  codes(t, () => pool.release(new Uint8Array(512)), 'ERR_ZEROSOCK_BAD_BUFFER');
  codes(t, () => pool.release(Buffer.alloc(512)), 'ERR_ZEROSOCK_BAD_BUFFER');
  codes(t, () => pool.release(mine.subarray(0, 100)), 'ERR_ZEROSOCK_BAD_BUFFER');
  codes(t, () => pool.release(mine.subarray(64)), 'ERR_ZEROSOCK_BAD_BUFFER');
  codes(t, () => pool.release(new Uint8Array(mine.buffer, 64, 512)), 'ERR_ZEROSOCK_BAD_BUFFER');
  // Same memory, same offset and length, but not the view the pool lent.
  codes(t, () => pool.release(mine.subarray(0)), 'ERR_ZEROSOCK_BAD_BUFFER');
  codes(t, () => pool.release(mine.slice()), 'ERR_ZEROSOCK_BAD_BUFFER');
  const copy = new mine.constructor(mine.buffer, mine.byteOffset, mine.byteLength);
  codes(t, () => pool.release(copy), 'ERR_ZEROSOCK_BAD_BUFFER');
  t.is(mine.subarray(1).constructor, Uint8Array, 'derived arrays are plain Uint8Arrays');
  codes(t, () => pool.transfer(theirs), 'ERR_ZEROSOCK_BAD_BUFFER');
  for (const bad of [undefined, null, 42, 'x', {}, new DataView(mine.buffer), new Uint16Array(4)]) {
    codes(t, () => pool.release(bad), 'ERR_INVALID_ARG_TYPE');
  }
  t.is(pool.stats().inUse, 1, 'refused releases change nothing');
  pool.release(mine);
  other.release(theirs);
  t.is(pool.stats().released, 1);
});

test('bad options: ERR_INVALID_ARG_TYPE / ERR_OUT_OF_RANGE / ERR_ZEROSOCK_POOL_CONFIG', (t) => {
  const make = (o) => () => new BufferPool(o);
  codes(t, make(undefined), 'ERR_INVALID_ARG_TYPE');
  codes(t, make(4096), 'ERR_INVALID_ARG_TYPE');
  codes(t, make({ size: '4096', count: 4 }), 'ERR_INVALID_ARG_TYPE');
  codes(t, make({ size: 4096 }), 'ERR_INVALID_ARG_TYPE');
  codes(t, make({ size: 4096, count: 4, populate: 'yes' }), 'ERR_INVALID_ARG_TYPE');
  codes(t, make({ size: 4096, count: 4, maxCount: '8' }), 'ERR_INVALID_ARG_TYPE');
  codes(t, make({ size: 64.5, count: 4 }), 'ERR_OUT_OF_RANGE');
  codes(t, make({ size: -64, count: 4 }), 'ERR_OUT_OF_RANGE');
  codes(t, make({ size: 2 ** 31, count: 4 }), 'ERR_OUT_OF_RANGE');
  codes(t, make({ size: 64, count: 2 ** 32 }), 'ERR_OUT_OF_RANGE');
  codes(t, make({ size: 100, count: 4 }), 'ERR_ZEROSOCK_POOL_CONFIG');
  codes(t, make({ size: 0, count: 4 }), 'ERR_ZEROSOCK_POOL_CONFIG');
  codes(t, make({ size: 64, count: 0 }), 'ERR_ZEROSOCK_POOL_CONFIG');
  codes(t, make({ size: 64, count: 8, maxCount: 4 }), 'ERR_ZEROSOCK_POOL_CONFIG');
  codes(t, make({ size: 64, count: 2 ** 25 }), 'ERR_ZEROSOCK_POOL_CONFIG');
  const ok = new BufferPool({ size: 64, count: 1, maxCount: 1, populate: true });
  t.is(ok.acquire().byteLength, 64);
});

test('tokens: exactly one fromToken per transfer; forged, stale and foreign tokens refused', (t) => {
  const pool = new BufferPool({ size: 128, count: 8 });
  const other = new BufferPool({ size: 128, count: 8 });
  t.is(BufferPool.attach(pool.poolId), pool, 'on its own thread, attach gives the pool itself');
  const v = pool.acquire();
  v.fill(7);
  const token = pool.transfer(v);
  t.deepEqual(Object.keys(token).sort(), ['generation', 'index', 'poolId']);
  t.deepEqual(structuredClone(token), token, 'plain data');
  codes(t, () => pool.release(v), 'ERR_ZEROSOCK_BUFFER_RELEASED');
  codes(t, () => pool.transfer(v), 'ERR_ZEROSOCK_BUFFER_RELEASED');
  codes(t, () => other.fromToken(token), 'ERR_ZEROSOCK_BAD_BUFFER');
  const back = pool.fromToken(token);
  t.true(back.every((b) => b === 7));
  codes(t, () => pool.fromToken(token), 'ERR_ZEROSOCK_BUFFER_RELEASED');
  pool.release(back);
  codes(t, () => pool.fromToken(token), 'ERR_ZEROSOCK_BUFFER_RELEASED');
  t.is(pool.stats().deferred, 0, 'the owner released its own buffer');
  // Buffers in the thread's cache were never transferred: guessed tokens must not reach them.
  const held = Array.from({ length: 3 }, () => pool.acquire());
  for (const x of held) pool.release(x);
  for (let index = 0; index < 8; index++) {
    for (const generation of [1, 2, 3]) {
      codes(
        t,
        () => pool.fromToken({ poolId: pool.poolId, index, generation }),
        'ERR_ZEROSOCK_BUFFER_RELEASED',
      );
    }
  }
  codes(
    t,
    () => pool.fromToken({ poolId: pool.poolId, index: 1 << 24, generation: 1 }),
    'ERR_ZEROSOCK_BAD_BUFFER',
  );
  codes(t, () => pool.fromToken(null), 'ERR_INVALID_ARG_TYPE');
  codes(
    t,
    () => pool.fromToken({ poolId: pool.poolId, index: '0', generation: 1 }),
    'ERR_INVALID_ARG_TYPE',
  );
  t.throws(() => BufferPool.attach(2 ** 40), { code: 'ERR_INVALID_ARG_VALUE' });
  t.throws(() => BufferPool.attach(-1), { code: 'ERR_INVALID_ARG_VALUE' });
  const all = Array.from({ length: 8 }, () => pool.acquire());
  t.is(new Set(all.map((x) => x.byteOffset)).size, 8, 'the pool is intact');
});

test('worker_thread: written bytes are visible there, its releases come back to the owner', async (t) => {
  const N = 48;
  const pool = new BufferPool({ size: 4096, count: 64 });
  const tokens = [];
  for (let i = 0; i < N; i++) {
    const v = pool.acquire();
    v.fill(i & 0xff);
    v[4095] = 0xa5;
    tokens.push(pool.transfer(v));
  }
  const before = pool.stats();
  t.is(before.transferred, N);
  t.is(before.inUse, 0);
  const result = await inWorker(
    `
    const pool = BufferPool.attach(data.tokens[0].poolId);
    let bad = 0;
    for (const [i, token] of data.tokens.entries()) {
      const v = pool.fromToken(token);
      if (v.byteLength !== 4096 || v[0] !== (i & 0xff) || v[2048] !== (i & 0xff) || v[4095] !== 0xa5) bad++;
      pool.release(v);
    }
    let second = null;
    try { pool.fromToken(data.tokens[0]); } catch (e) { second = e.code; }
    // The worker's own buffer, handed back to the owner thread.
    const mine = pool.acquire();
    mine.fill(0x3c);
    reply({ bad, second, stats: pool.stats(), token: pool.transfer(mine) });
    `,
    { tokens },
  );
  t.is(result.bad, 0, 'the worker saw what the owner wrote');
  t.is(result.second, 'ERR_ZEROSOCK_BUFFER_RELEASED');
  t.is(result.stats.received, N);
  t.is(result.stats.deferred, N, 'every release in the worker was deferred to the owner');
  const after = pool.stats();
  t.is(after.returnedViaRing - before.returnedViaRing, N, 'all went onto the owner ring');
  t.is(after.threads, 1, 'the worker has gone');
  t.is(pool.drain(), N, 'the owner takes them back');
  const drained = pool.stats();
  t.is(drained.drainedFromRing - before.drainedFromRing, N);
  // The worker's buffer outlives the worker; releasing it here is a deferred free (its owner
  // is gone, so it goes to the shared free list).
  const theirs = pool.fromToken(result.token);
  t.true(theirs.every((b) => b === 0x3c));
  pool.release(theirs);
  const end = pool.stats();
  t.is(end.deferred, 1);
  t.is(end.returnedToShared - drained.returnedToShared, 1);
  t.is(end.inUse, 0);
});

test('worker_thread: buffers a worker transfers to the owner are freed back to the worker', async (t) => {
  const pool = new BufferPool({ size: 1024, count: 16 });
  const { SharedArrayBuffer: SAB } = globalThis;
  const flag = new Int32Array(new SAB(4));
  const w = new Worker(
    `
    const { parentPort, workerData } = require('node:worker_threads');
    const { BufferPool } = require(${JSON.stringify(entry)});
    const pool = BufferPool.attach(workerData.poolId);
    const tokens = [];
    for (let i = 0; i < 8; i++) { const v = pool.acquire(); v[0] = i; tokens.push(pool.transfer(v)); }
    parentPort.postMessage(tokens);
    // Wait (bounded) until the owner released them, then take them back.
    Atomics.wait(workerData.flag, 0, 0, 30000);
    const drained = pool.drain();
    parentPort.postMessage({ drained, stats: pool.stats() });
    `,
    { eval: true, workerData: { poolId: pool.poolId, flag } },
  );
  const messages = [];
  const done = new Promise((resolve, reject) => {
    w.on('message', (m) => {
      messages.push(m);
      if (messages.length === 1) {
        for (const token of m) {
          const v = pool.fromToken(token);
          t.is(v[0], messages[0].indexOf(token));
          pool.release(v);
        }
        Atomics.store(flag, 0, 1);
        Atomics.notify(flag, 0);
      } else resolve();
    });
    w.on('error', reject);
  });
  await done;
  t.is(pool.stats().deferred, 8);
  t.is(messages[1].drained, 8, 'the worker got all eight back through its ring');
  t.is(messages[1].stats.inUse, 0);
});
