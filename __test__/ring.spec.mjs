// SpscRing: the lock-free byte-message ring of docs/LAYOUT.md over a SharedArrayBuffer,
// shared with worker_threads and with native threads (zerosock_ring::ByteRing).
import test from 'ava';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { SpscRing, ZerosockError, nativePath } from 'zerosock';

const require = createRequire(import.meta.url);
/** Where workers load zerosock from (an eval'd worker has no module context of its own). */
const entry = require.resolve('zerosock');

const HEADER = 384;
const I_MAGIC = 0;
const I_VERSION = 1;
const I_KIND = 2;
const I_CAPACITY = 3;
const I_RECORD_SIZE = 4;
const I_HEAD = 32;
const I_WAITING = 33;
const I_TAIL = 64;

const header = (ring) => new Int32Array(ring.buffer, 0, HEADER / 4);
const bytes = (...values) => new Uint8Array(values);
const filled = (len, seed) => new Uint8Array(len).map((_, i) => (i * 31 + seed) & 0xff);
const sameBytes = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);

// ------------------------------------------------------------------ construction and attach

test('new SpscRing allocates a SharedArrayBuffer with the documented header', (t) => {
  const ring = new SpscRing(1024);
  t.true(ring.buffer instanceof SharedArrayBuffer);
  t.is(ring.buffer.byteLength, HEADER + 1024);
  t.is(ring.capacity, 1024);
  t.is(ring.maxMessageLength, 1024 / 2 - 4);
  t.is(ring.size, 0);
  t.true(ring.isShared);
  const h = header(ring);
  t.is(h[I_MAGIC] >>> 0, 0x5a535247);
  t.is(h[I_VERSION], 1);
  t.is(h[I_KIND], 1);
  t.is(h[I_CAPACITY], 1024);
  t.is(h[I_RECORD_SIZE], 0);
  t.is(h[I_HEAD], 0);
  t.is(h[I_TAIL], 0);
  t.is(h[I_WAITING], 0);
  t.is(Buffer.from(ring.buffer, 0, 4).toString('latin1'), 'GRSZ'); // 0x5A535247 little-endian
});

test('a bad capacity is ERR_ZEROSOCK_RING_CAPACITY, a non-number ERR_INVALID_ARG_TYPE', (t) => {
  for (const bad of [0, 32, 63, 100, 96, 2 ** 31, -64, 64.5, NaN, Infinity]) {
    t.throws(() => new SpscRing(bad), {
      instanceOf: ZerosockError,
      code: 'ERR_ZEROSOCK_RING_CAPACITY',
    });
  }
  t.throws(() => new SpscRing('64'), { code: 'ERR_INVALID_ARG_TYPE' });
  t.throws(() => new SpscRing(), { code: 'ERR_INVALID_ARG_TYPE' });
  t.is(new SpscRing(64).capacity, 64);
});

test('SpscRing.from attaches to an existing ring and keeps its contents', (t) => {
  const a = new SpscRing(256);
  t.true(a.push(bytes(1, 2, 3)));
  const b = SpscRing.from(a.buffer);
  t.is(b.capacity, 256);
  t.is(b.size, 8);
  t.deepEqual(b.pop(), bytes(1, 2, 3));
  t.is(a.size, 0);
  // A view selects a ring inside a bigger buffer (e.g. pool memory).
  const big = new SharedArrayBuffer(4096);
  new Uint8Array(big, 1024).set(new Uint8Array(new SpscRing(512).buffer));
  const inner = SpscRing.from(new Uint8Array(big, 1024, HEADER + 512));
  t.true(inner.push(bytes(7)));
  t.is(new Int32Array(big, 1024 + 256, 1)[0], 8); // its tail word moved
  t.deepEqual(SpscRing.from(new DataView(big, 1024)).pop(), bytes(7));
});

test('SpscRing.from rejects bad memory and bad headers with stable codes', (t) => {
  const good = () => {
    const r = new SpscRing(256);
    const copy = new SharedArrayBuffer(r.buffer.byteLength);
    new Uint8Array(copy).set(new Uint8Array(r.buffer));
    return copy;
  };
  const withWord = (index, value) => {
    const sab = good();
    new Int32Array(sab)[index] = value;
    return sab;
  };
  for (const notMemory of [undefined, null, 42, 'ring', {}, [1, 2, 3]]) {
    t.throws(() => SpscRing.from(notMemory), { code: 'ERR_INVALID_ARG_TYPE' });
  }
  const memory = (m) => ({ instanceOf: ZerosockError, code: 'ERR_ZEROSOCK_RING_BAD_MEMORY', ...m });
  const header = { instanceOf: ZerosockError, code: 'ERR_ZEROSOCK_RING_BAD_HEADER' };
  t.throws(() => SpscRing.from(new SharedArrayBuffer(HEADER + 63)), memory());
  t.throws(() => SpscRing.from(new Uint8Array(good(), 2, HEADER + 64)), memory());
  t.throws(() => SpscRing.from(new Uint8Array(good(), 0, HEADER + 255)), memory());
  t.throws(() => SpscRing.from(new SharedArrayBuffer(HEADER + 64)), {
    ...header,
    message: /magic/,
  });
  t.throws(() => SpscRing.from(withWord(I_MAGIC, 0x12345678)), { ...header, message: /magic/ });
  t.throws(() => SpscRing.from(withWord(I_VERSION, 2)), { ...header, message: /version/ });
  t.throws(() => SpscRing.from(withWord(I_KIND, 2)), { ...header, message: /kind/ });
  for (const cap of [0, 100, 32, 2 ** 31, -256]) {
    t.throws(() => SpscRing.from(withWord(I_CAPACITY, cap)), { ...header, message: /capacity/ });
  }
  t.throws(() => SpscRing.from(withWord(I_RECORD_SIZE, 16)), { ...header, message: /record/ });
  t.throws(() => SpscRing.from(withWord(I_TAIL, 260)), { ...header, message: /head\/tail/ });
  t.throws(() => SpscRing.from(withWord(I_TAIL, 2)), { ...header, message: /head\/tail/ });
  t.throws(() => SpscRing.from(withWord(I_HEAD, 4)), { ...header, message: /head\/tail/ });
  t.notThrows(() => SpscRing.from(good()));
});

// ------------------------------------------------------------------ push / pop

test('push and pop every length from 0 to maxMessageLength; too long is rejected', (t) => {
  const ring = new SpscRing(256);
  for (let len = 0; len <= ring.maxMessageLength; len++) {
    const m = filled(len, len);
    const off = header(ring)[I_TAIL] & 255;
    const footprint = 4 + Math.ceil(len / 4) * 4;
    t.true(ring.push(m));
    // A message that doesn't fit before the end skips the rest of the data area (wrap marker).
    t.is(ring.size, footprint <= 256 - off ? footprint : 256 - off + footprint);
    const out = ring.pop();
    t.true(sameBytes(out, m), `length ${len}`);
    t.not(out.buffer, ring.buffer); // a copy
  }
  t.is(ring.pop(), null);
  t.throws(() => ring.push(new Uint8Array(ring.maxMessageLength + 1)), {
    instanceOf: ZerosockError,
    code: 'ERR_ZEROSOCK_RING_MESSAGE_TOO_LARGE',
  });
  t.is(ring.size, 0);
  t.true(ring.push(Buffer.from('a Buffer is a Uint8Array')));
  t.is(Buffer.from(ring.pop()).toString(), 'a Buffer is a Uint8Array');
});

test('push of anything but a Uint8Array is ERR_INVALID_ARG_TYPE', (t) => {
  const ring = new SpscRing(256);
  for (const bad of [
    'text',
    [1, 2],
    new Int8Array(2),
    new Uint16Array(2),
    new DataView(new ArrayBuffer(4)),
    null,
    undefined,
    7,
  ]) {
    t.throws(() => ring.push(bad), { instanceOf: ZerosockError, code: 'ERR_INVALID_ARG_TYPE' });
  }
  t.throws(() => ring.pushBatch('nope'), { code: 'ERR_INVALID_ARG_TYPE' });
  t.throws(() => ring.popInto([]), { code: 'ERR_INVALID_ARG_TYPE' });
  t.throws(() => ring.popWith(null), { code: 'ERR_INVALID_ARG_TYPE' });
  t.is(ring.size, 0);
});

test('full and empty: push returns false without writing, pop frees room', (t) => {
  const ring = new SpscRing(64);
  const m = filled(12, 1); // footprint 16
  let n = 0;
  while (ring.push(m)) n++;
  t.is(n, 4);
  t.is(ring.size, 64);
  t.false(ring.push(new Uint8Array(0)));
  t.is(ring.size, 64);
  t.true(sameBytes(ring.pop(), m));
  t.true(ring.push(filled(12, 2)));
  t.false(ring.push(bytes(1)));
  for (let i = 0; i < 3; i++) t.true(sameBytes(ring.pop(), m));
  t.true(sameBytes(ring.pop(), filled(12, 2)));
  t.is(ring.pop(), null);
  t.is(ring.size, 0);
});

test('wrap-around: random sizes and interleavings match a queue model', (t) => {
  const ring = new SpscRing(128);
  const model = [];
  let seed = 12345;
  const rnd = (n) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  let pushed = 0;
  let popped = 0;
  for (let step = 0; step < 20000; step++) {
    if (rnd(2) === 0) {
      const m = filled(rnd(ring.maxMessageLength + 1), step);
      if (ring.push(m)) {
        model.push(m);
        pushed++;
      } else {
        t.true(model.length > 0, 'a message always fits into an empty ring');
      }
    } else {
      const out = ring.pop();
      const want = model.shift() ?? null;
      if (want === null) t.is(out, null);
      else if (!sameBytes(out, want)) return t.fail(`mismatch at step ${step}`);
      if (out) popped++;
    }
  }
  t.true(pushed > 5000 && popped > 5000);
  t.pass();
});

test('a maximum-size message fits into an empty ring at every offset (wrap marker)', (t) => {
  const big = filled(28, 9);
  for (let off = 0; off < 64; off += 4) {
    const fresh = new SpscRing(64);
    header(fresh)[I_HEAD] = off;
    header(fresh)[I_TAIL] = off;
    const ring = SpscRing.from(fresh.buffer);
    t.is(ring.maxMessageLength, 28);
    t.true(ring.push(big), `offset ${off}`);
    const wrapped = off > 32;
    t.is(ring.size, wrapped ? 64 - off + 32 : 32);
    if (wrapped) t.is(new Int32Array(ring.buffer, HEADER + off, 1)[0], -1, 'wrap marker');
    t.true(sameBytes(ring.pop(), big));
    t.is(ring.size, 0);
    t.false(ring.push(filled(28, 1)) && ring.push(filled(28, 2)) && ring.push(bytes(1)));
  }
});

test('positions wrap at 2^32', (t) => {
  const ring = new SpscRing(64);
  const h = header(ring);
  h[I_HEAD] = -32; // 2^32 - 32
  h[I_TAIL] = -32;
  const r = SpscRing.from(ring.buffer);
  for (let i = 0; i < 40; i++) {
    const m = filled(i % 20, i);
    t.true(r.push(m));
    t.true(sameBytes(r.pop(), m));
  }
  t.true(h[I_TAIL] > 0 && h[I_TAIL] === h[I_HEAD]);
  t.is(r.size, 0);
});

// ------------------------------------------------------------------ batches

test('pushBatch publishes what fits with one tail store; popBatch honours max', (t) => {
  const ring = new SpscRing(256);
  const list = Array.from({ length: 40 }, (_, i) => filled(i % 13, i));
  const n = ring.pushBatch(list);
  t.true(n > 0 && n < 40);
  t.is(ring.pushBatch(list, n, n), 0);
  const first = ring.popBatch(5);
  t.is(first.length, 5);
  const rest = ring.popBatch();
  t.is(first.length + rest.length, n);
  [...first, ...rest].forEach((m, i) => t.true(sameBytes(m, list[i])));
  t.deepEqual(ring.popBatch(), []);
  t.is(ring.size, 0);
  t.is(ring.pushBatch([]), 0);
  // The rest fits now that the ring is empty again.
  const m = ring.pushBatch(list, n);
  t.true(m > 0);
  ring.popBatch().forEach((msg, i) => t.true(sameBytes(msg, list[n + i])));
});

test('pushBatch checks every message before pushing any', (t) => {
  const ring = new SpscRing(256);
  t.throws(() => ring.pushBatch([bytes(1), new Uint8Array(500)]), {
    code: 'ERR_ZEROSOCK_RING_MESSAGE_TOO_LARGE',
  });
  t.throws(() => ring.pushBatch([bytes(1), 'x']), { code: 'ERR_INVALID_ARG_TYPE' });
  t.is(ring.size, 0);
  t.is(ring.pushBatch([bytes(1), bytes(2, 3)], 1), 1);
  t.deepEqual(ring.pop(), bytes(2, 3));
});

test('popWith visits messages in place and releases them with one store', (t) => {
  const ring = new SpscRing(256);
  for (let i = 0; i < 6; i++) ring.push(filled(i * 3, i));
  const seen = [];
  const headBefore = header(ring)[I_HEAD];
  const n = ring.popWith((data, offset, length) => {
    t.is(data.buffer, ring.buffer); // zero-copy: the ring's own memory
    t.is(header(ring)[I_HEAD], headBefore); // not released while visiting
    seen.push(data.slice(offset, offset + length));
  }, 4);
  t.is(n, 4);
  seen.forEach((m, i) => t.true(sameBytes(m, filled(i * 3, i))));
  // A throwing visitor: the messages before it are released, its own stays.
  const err = new Error('stop');
  t.throws(
    () =>
      ring.popWith((data, offset, length) => {
        if (length === 15) throw err;
      }),
    { is: err },
  );
  t.is(ring.pop().length, 15);
  t.is(ring.pop(), null);
});

test('popInto copies into a target without allocating and checks room', (t) => {
  const ring = new SpscRing(256);
  const target = new Uint8Array(64);
  t.is(ring.popInto(target), -1);
  ring.push(filled(20, 4));
  ring.push(filled(60, 5));
  t.is(ring.popInto(target, 10), 20);
  t.true(sameBytes(target.subarray(10, 30), filled(20, 4)));
  t.throws(() => ring.popInto(target, 10), { code: 'ERR_OUT_OF_RANGE' });
  t.is(ring.popInto(target), 60); // still there after the failed attempt
  t.true(sameBytes(target.subarray(0, 60), filled(60, 5)));
});

// ------------------------------------------------------------------ corrupt peers

const corrupt = { instanceOf: ZerosockError, code: 'ERR_ZEROSOCK_RING_CORRUPT' };

test('a garbage tail from the producer is ERR_ZEROSOCK_RING_CORRUPT', (t) => {
  for (const garbage of [1000, 2, -4, 0x7ffffff0]) {
    const ring = new SpscRing(256);
    ring.push(bytes(1, 2, 3));
    header(ring)[I_TAIL] = garbage;
    t.throws(() => ring.pop(), corrupt, `tail ${garbage}`);
    t.throws(() => ring.popBatch(), corrupt);
    t.throws(() => ring.popWith(() => {}), corrupt);
  }
});

test('a tail moving backwards is ERR_ZEROSOCK_RING_CORRUPT', (t) => {
  const ring = new SpscRing(256);
  ring.pushBatch([bytes(1), bytes(2), bytes(3)]);
  t.deepEqual(ring.pop(), bytes(1));
  t.deepEqual(ring.pop(), bytes(2));
  t.deepEqual(ring.pop(), bytes(3));
  header(ring)[I_TAIL] = 8; // behind our head (24)
  t.throws(() => ring.pop(), corrupt);
});

test('a garbage head from the consumer is ERR_ZEROSOCK_RING_CORRUPT for the producer', (t) => {
  for (const garbage of [4096, 6, -8]) {
    const ring = new SpscRing(64);
    while (ring.push(filled(12, 1)));
    header(ring)[I_HEAD] = garbage;
    t.throws(() => ring.push(bytes(1)), corrupt, `head ${garbage}`);
    t.throws(() => ring.pushBatch([bytes(1)]), corrupt);
  }
});

test('garbage lengths and wrap markers are ERR_ZEROSOCK_RING_CORRUPT', (t) => {
  const ring = new SpscRing(256);
  ring.push(filled(8, 1));
  const data32 = new Int32Array(ring.buffer, HEADER, 64);
  for (const len of [9, 200, 0x7fffffff, -2]) {
    data32[0] = len; // claims more than was published (tail is 12)
    t.throws(() => ring.pop(), corrupt, `length ${len}`);
  }
  data32[0] = -1; // a wrap marker whose skip passes the tail
  t.throws(() => ring.pop(), corrupt);
  data32[0] = 8;
  t.true(sameBytes(ring.pop(), filled(8, 1)));
});

test('random garbage never hangs: every call returns or throws a ZerosockError', (t) => {
  let seed = 99;
  const rnd = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return seed | 0;
  };
  let thrown = 0;
  const started = performance.now();
  for (let round = 0; round < 2000; round++) {
    const ring = new SpscRing(64);
    ring.pushBatch([bytes(1, 2), bytes(3), new Uint8Array(20)]);
    const h = header(ring);
    const d = new Int32Array(ring.buffer, HEADER, 16);
    for (let k = 0; k < 4; k++) d[rnd() & 15] = rnd() % 5 === 0 ? -1 : rnd() & 127;
    if (round % 3 === 0) h[I_TAIL] = rnd() & 0xfc;
    if (round % 5 === 0) h[I_HEAD] = rnd() & 0xff;
    for (const op of [() => ring.popBatch(), () => ring.pop(), () => ring.push(bytes(1))]) {
      try {
        op();
      } catch (err) {
        if (!(err instanceof ZerosockError) || err.code !== 'ERR_ZEROSOCK_RING_CORRUPT') throw err;
        thrown++;
      }
    }
  }
  t.true(thrown > 100);
  t.true(performance.now() - started < 10_000);
});

// ------------------------------------------------------------------ waiting

test.serial(
  'waitForData: an idle consumer sleeps (flag set, no spinning) and wakes on push',
  async (t) => {
    const ring = new SpscRing(1024);
    const h = header(ring);
    const producer = new Worker(
      `const { workerData } = require('node:worker_threads');
     const { SpscRing } = require(workerData.entry);
     const ring = SpscRing.from(workerData.buffer);
     const i32 = new Int32Array(workerData.buffer);
     // Wait (bounded) until the consumer announced its sleep, then a little longer.
     for (let i = 0; i < 200 && Atomics.load(i32, 33) === 0; i++) Atomics.wait(i32, 1, 1, 10);
     Atomics.wait(i32, 1, 1, 300);
     ring.push(new Uint8Array([42]));`,
      { eval: true, workerData: { entry, buffer: ring.buffer } },
    );
    // Listen for 'exit' now: the worker may be gone before the checks below are done.
    const exited = new Promise((resolve) => producer.once('exit', resolve));
    const elu0 = performance.eventLoopUtilization();
    const t0 = performance.now();
    const woke = await ring.waitForData(10_000);
    const waited = performance.now() - t0;
    const elu = performance.eventLoopUtilization(elu0);
    t.true(woke);
    t.true(waited >= 250, `waited ${waited} ms`);
    t.true(waited < 5000, `woke ${waited} ms after the wait began`);
    // Spinning (setImmediate/microtask polling) would keep the event loop busy.
    t.true(elu.utilization < 0.5, `event loop utilisation ${elu.utilization}`);
    t.is(h[I_WAITING], 0);
    t.deepEqual(ring.pop(), bytes(42));
    await exited;
  },
);

test.serial(
  'the consumer-waiting flag is set while asleep and cleared by a notifying push',
  async (t) => {
    const ring = new SpscRing(256);
    const h = header(ring);
    const waiting = ring.popAsync();
    await new Promise((resolve) => setTimeout(resolve, 20));
    t.is(h[I_WAITING], 1);
    const producer = SpscRing.from(ring.buffer);
    t.true(producer.push(bytes(5)));
    t.is(h[I_WAITING], 0, 'the producer clears the flag when it notifies');
    t.deepEqual(await waiting, bytes(5));
    // Without a sleeping consumer the producer leaves the flag alone (no notify).
    t.true(producer.push(bytes(6)));
    t.is(h[I_WAITING], 0);
    t.deepEqual(await ring.popAsync(), bytes(6));
  },
);

test.serial(
  'waitForData and popAsync time out; an empty wait keeps the event loop alive',
  async (t) => {
    const ring = new SpscRing(256);
    const t0 = performance.now();
    t.false(await ring.waitForData(60));
    t.true(performance.now() - t0 >= 55);
    t.is(await ring.popAsync(20), null);
    t.is(header(ring)[I_WAITING], 0);
    t.false(await ring.waitForData(0));
  },
);

test('a ring in a plain ArrayBuffer works (polling waits; waitSync refuses)', async (t) => {
  const shared = new SpscRing(256);
  const plain = new ArrayBuffer(shared.buffer.byteLength);
  new Uint8Array(plain).set(new Uint8Array(shared.buffer));
  const ring = SpscRing.from(plain);
  t.false(ring.isShared);
  t.true(ring.push(bytes(1, 2)));
  t.deepEqual(ring.pop(), bytes(1, 2));
  t.throws(() => ring.waitSync(1), { code: 'ERR_INVALID_ARG_VALUE' });
  setTimeout(() => ring.push(bytes(3)), 30);
  t.deepEqual(await ring.popAsync(5000), bytes(3));
  t.is(await ring.popAsync(10), null);
});

// ------------------------------------------------------------------ stress across workers

const STRESS_COUNT = 10_000_000;

// Shared by both stress workers: message i has length lenOf(i) (8..128 bytes) = seq (u32 LE),
// FNV-1a checksum (u32 LE) of the other bytes, then pseudo-random payload.
const messageCode = `
  const lenOf = (s) => 8 + ((Math.imul(s, 2654435761) >>> 24) % 121);
  function checksum(buf, off, len) {
    let h = 0x811c9dc5;
    for (let k = 0; k < 4; k++) h = Math.imul(h ^ buf[off + k], 16777619);
    for (let k = 8; k < len; k++) h = Math.imul(h ^ buf[off + k], 16777619);
    return h >>> 0;
  }
  function writeMessage(buf, off, s, len) {
    buf[off] = s; buf[off + 1] = s >>> 8; buf[off + 2] = s >>> 16; buf[off + 3] = s >>> 24;
    let x = (s ^ 0x9e3779b9) | 1;
    for (let k = 8; k < len; k++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; buf[off + k] = x; }
    const h = checksum(buf, off, len);
    buf[off + 4] = h; buf[off + 5] = h >>> 8; buf[off + 6] = h >>> 16; buf[off + 7] = h >>> 24;
  }
  const u32 = (buf, off) => (buf[off] | (buf[off + 1] << 8) | (buf[off + 2] << 16) | (buf[off + 3] << 24)) >>> 0;
`;

const producerCode = `
  const { workerData, parentPort } = require('node:worker_threads');
  const { SpscRing } = require(workerData.entry);
  ${messageCode}
  const ring = SpscRing.from(workerData.buffer);
  const count = workerData.count;
  const scratch = new Uint8Array(256 * 128);
  const nap = new Int32Array(new SharedArrayBuffer(4));
  const views = [];
  let seq = 0, round = 0, fullWaits = 0;
  while (seq < count) {
    views.length = 0;
    const n = Math.min(256, count - seq);
    let pos = 0;
    for (let k = 0; k < n; k++) {
      const len = lenOf(seq + k);
      writeMessage(scratch, pos, seq + k, len);
      views.push(scratch.subarray(pos, pos + len));
      pos += len;
    }
    const single = (round++ & 7) === 0;
    let done = 0, spins = 0;
    while (done < n) {
      const pushed = single ? (ring.push(views[done]) ? 1 : 0) : ring.pushBatch(views, done);
      if (pushed > 0) { done += pushed; spins = 0; continue; }
      if (++spins > 32) { fullWaits++; Atomics.wait(nap, 0, 0, 0.05); }
    }
    seq += n;
  }
  parentPort.postMessage({ sent: seq, fullWaits });
`;

const consumerCode = `
  const { workerData, parentPort } = require('node:worker_threads');
  const { SpscRing } = require(workerData.entry);
  ${messageCode}
  const ring = SpscRing.from(workerData.buffer);
  const count = workerData.count;
  const deadline = performance.now() + workerData.timeoutMs;
  let expected = 0, received = 0, lost = 0, reordered = 0, corrupted = 0, bytes = 0, sleeps = 0;
  function check(buf, off, len) {
    const seq = u32(buf, off);
    if (len < 8 || len !== lenOf(seq) || checksum(buf, off, len) !== u32(buf, off + 4)) corrupted++;
    if (seq !== expected) { if (seq > expected) lost += seq - expected; else reordered++; }
    expected = seq + 1;
    received++;
    bytes += len;
  }
  const target = new Uint8Array(256);
  let round = 0;
  while (received < count && performance.now() < deadline) {
    const mode = round++ & 15;
    let n = 0;
    if (mode === 0) {
      const list = ring.popBatch(64);
      for (const m of list) check(m, 0, m.length);
      n = list.length;
    } else if (mode === 1) {
      const m = ring.pop();
      if (m !== null) { check(m, 0, m.length); n = 1; }
    } else if (mode === 2) {
      const len = ring.popInto(target);
      if (len >= 0) { check(target, 0, len); n = 1; }
    } else {
      n = ring.popWith(check);
    }
    if (n === 0) { sleeps++; ring.waitSync(50); }
  }
  lost += count - expected > 0 ? count - expected : 0;
  parentPort.postMessage({ received, lost, reordered, corrupted, bytes, sleeps, leftover: ring.size });
`;

function runWorker(code, workerData) {
  return new Promise((resolve, reject) => {
    const w = new Worker(code, { eval: true, workerData });
    let result;
    w.once('message', (m) => (result = m));
    w.once('error', reject);
    w.once('exit', (code) =>
      code === 0 && result ? resolve(result) : reject(new Error(`worker exited ${code}`)),
    );
  });
}

test.serial(
  'stress: 10 million variable-size messages between two workers, none lost, reordered or corrupted',
  async (t) => {
    const ring = new SpscRing(1 << 18);
    const started = performance.now();
    const [prod, cons] = await Promise.all([
      runWorker(producerCode, { entry, buffer: ring.buffer, count: STRESS_COUNT }),
      runWorker(consumerCode, {
        entry,
        buffer: ring.buffer,
        count: STRESS_COUNT,
        timeoutMs: 150_000,
      }),
    ]);
    const seconds = (performance.now() - started) / 1000;
    t.log(
      `${STRESS_COUNT} msgs, ${(cons.bytes / 1e6).toFixed(0)} MB in ${seconds.toFixed(1)} s ` +
        `(${(STRESS_COUNT / seconds / 1e6).toFixed(2)} M msgs/s incl. generation and checks); ` +
        `consumer sleeps ${cons.sleeps}, producer full-waits ${prod.fullWaits}`,
    );
    t.is(prod.sent, STRESS_COUNT);
    t.is(cons.received, STRESS_COUNT);
    t.is(cons.lost, 0);
    t.is(cons.reordered, 0);
    t.is(cons.corrupted, 0);
    t.is(cons.leftover, 0);
    t.is(ring.size, 0);
  },
);

// ------------------------------------------------------------------ native <-> JS

const binding = require(nativePath);

test('a ring created by Rust attaches from JS (external ArrayBuffer)', (t) => {
  const memory = binding.nativeRingCreate(1 << 16);
  t.true(memory instanceof ArrayBuffer);
  t.is(memory.byteLength, HEADER + (1 << 16));
  const ring = SpscRing.from(memory);
  t.is(ring.capacity, 1 << 16);
  t.false(ring.isShared);
  t.is(ring.size, 0);
  const msgs = Array.from({ length: 100 }, (_, i) => filled(i * 7, i));
  t.is(ring.pushBatch(msgs), 100);
  ring.popBatch().forEach((m, i) => t.true(sameBytes(m, msgs[i])));
  t.throws(() => binding.nativeRingCreate(100), { code: 'ERR_ZEROSOCK_RING_CAPACITY' });
});

/** Pushes `count` checksummed messages through `input`, reads them back from `output`. */
async function echoThrough(t, input, output, count, wait) {
  const lenOf = (s) =>
    (Math.imul(s, 2654435761) >>> 22) % Math.min(1000, input.maxMessageLength - 8);
  const payload = (s, len) => {
    const m = new Uint8Array(len + 8);
    new DataView(m.buffer).setUint32(0, s, true);
    for (let k = 8; k < m.length; k++) m[k] = (s + k * 7) & 0xff;
    let h = 0;
    for (let k = 8; k < m.length; k++) h = (Math.imul(h, 31) + m[k]) >>> 0;
    new DataView(m.buffer).setUint32(4, h, true);
    return m;
  };
  let sent = 0;
  let received = 0;
  let bad = 0;
  let bytes = 0;
  const deadline = performance.now() + 60_000;
  let pending = null;
  let timeouts = 0;
  while (received < count && performance.now() < deadline) {
    while (sent < count) {
      pending ??= payload(sent, lenOf(sent));
      if (!input.push(pending)) break;
      bytes += pending.length;
      pending = null;
      sent++;
    }
    const got = output.popWith((data, off, len) => {
      const view = new DataView(data.buffer, data.byteOffset + off, len);
      const s = view.getUint32(0, true);
      let h = 0;
      for (let k = 8; k < len; k++) h = (Math.imul(h, 31) + data[off + k]) >>> 0;
      if (s !== received || len !== lenOf(s) + 8 || h !== view.getUint32(4, true)) bad++;
      received++;
    });
    if (got === 0 && !(await wait())) timeouts++;
  }
  t.true(input.push(new Uint8Array(0)), 'end marker');
  let end = null;
  for (let i = 0; i < 1000 && end === null; i++) {
    end = output.pop();
    if (end === null) await new Promise((resolve) => setTimeout(resolve, 2));
  }
  return { received, bad, bytes, end, timeouts };
}

test('JS → native thread → JS over SharedArrayBuffer rings, woken by the native producer', async (t) => {
  const input = new SpscRing(1 << 14);
  const output = new SpscRing(1 << 14);
  let wakeups = 0;
  const echo = binding.ringEchoStart(
    new Uint8Array(input.buffer),
    new Uint8Array(output.buffer),
    () => {
      wakeups++;
      output.notify();
    },
  );
  const count = 200_000;
  // The consumer waits without a timeout: only the native producer's notify can wake it.
  const r = await echoThrough(t, input, output, count, () => output.waitForData(5_000));
  t.is(r.timeouts, 0, 'every sleep was ended by a notify, none by the timeout');
  t.is(r.received, count);
  t.is(r.bad, 0);
  t.deepEqual(r.end, new Uint8Array(0));
  const stats = echo.stop();
  t.is(stats.messages, count);
  t.is(stats.bytes, r.bytes);
  t.true(echo.finished);
  t.log(`native woke the JS consumer ${wakeups} times`);
  t.true(wakeups > 0);
  t.deepEqual(echo.stop(), { messages: 0, bytes: 0 });
});

test('JS → native thread → a Rust-created ring → JS', async (t) => {
  const input = new SpscRing(1 << 16);
  const memory = binding.nativeRingCreate(1 << 16);
  const output = SpscRing.from(memory);
  const echo = binding.ringEchoStart(new Uint8Array(input.buffer), new Uint8Array(memory));
  const count = 50_000;
  const r = await echoThrough(t, input, output, count, () => output.waitForData(50));
  t.is(r.received, count);
  t.is(r.bad, 0);
  t.deepEqual(r.end, new Uint8Array(0));
  t.deepEqual(echo.stop(), { messages: count, bytes: r.bytes });
});

test('native echo: bad rings are refused, a corrupt JS producer stops it with ERR_ZEROSOCK_RING_CORRUPT', async (t) => {
  const good = new SpscRing(256);
  t.throws(() => binding.ringEchoStart(new Uint8Array(100), new Uint8Array(good.buffer)), {
    code: 'ERR_ZEROSOCK_RING_BAD_MEMORY',
  });
  t.throws(() => binding.ringEchoStart(new Uint8Array(1024), new Uint8Array(good.buffer)), {
    code: 'ERR_ZEROSOCK_RING_BAD_HEADER',
  });
  t.throws(() => binding.ringEchoStart(new Uint8Array(good.buffer), new Uint8Array(good.buffer)), {
    message: /overlap/,
  });
  const input = new SpscRing(256);
  const output = new SpscRing(256);
  const echo = binding.ringEchoStart(new Uint8Array(input.buffer), new Uint8Array(output.buffer));
  header(input)[I_TAIL] = 4096; // garbage tail
  for (let i = 0; i < 500 && !echo.finished; i++) await new Promise((r) => setTimeout(r, 2));
  t.true(echo.finished);
  t.throws(() => echo.stop(), { code: 'ERR_ZEROSOCK_RING_CORRUPT' });
  // stop() of an idle echo returns at once.
  const idle = binding.ringEchoStart(
    new Uint8Array(new SpscRing(256).buffer),
    new Uint8Array(new SpscRing(256).buffer),
  );
  const t0 = performance.now();
  t.deepEqual(idle.stop(), { messages: 0, bytes: 0 });
  t.true(performance.now() - t0 < 1000);
});
