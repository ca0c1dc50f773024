// The ring and pool micro-benchmarks of the suite, bounded by count.
//
// ring: the two-worker transfer of benchmark/ring.mjs (a producer pushes `count` fixed-size
//   messages, a consumer pops them, both spinning when full/empty), zerosock SpscRing push/popInto
//   vs ringbuf.js push/pop, both copying into caller memory; the consumer checks every message.
// pool: runs benchmark/pool.mjs's own `--gc-child` mode (one fresh `node --expose-gc` process per
//   side) for BufferPool acquire+release vs Buffer.allocUnsafe of 64 KiB: ns/op and GC cycles.
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import { RingBuffer } from 'ringbuf.js';
import { SpscRing } from 'zerosock';

const require = createRequire(import.meta.url);
const run = promisify(execFile);
const CAPACITY = 1 << 16;

const ringWorker = `
  const { workerData: w, parentPort } = require('node:worker_threads');
  const go = new Int32Array(w.control);
  const msgs = Array.from({ length: 64 }, (_, i) => new Uint8Array(w.size).fill(i));
  const out = new Uint8Array(w.size);
  const { size, count } = w;
  let ring, rb;
  if (w.impl === 'ringbuf') rb = new (require(w.ringbufEntry).RingBuffer)(w.sab, Uint8Array);
  else ring = require(w.zerosockEntry).SpscRing.from(w.sab);
  parentPort.postMessage('ready');
  Atomics.wait(go, 0, 0);
  const start = process.hrtime.bigint();
  let bad = 0;
  let sum = 0;
  if (w.role === 'producer') {
    if (rb) for (let i = 0; i < count; i++) { while (rb.availableWrite() < size); rb.push(msgs[i & 63]); }
    else for (let i = 0; i < count; i++) { const m = msgs[i & 63]; while (!ring.push(m)); }
  } else if (rb) {
    for (let i = 0; i < count; i++) {
      while (rb.availableRead() < size);
      rb.pop(out);
      if (out[0] !== (i & 63) || out[size - 1] !== (i & 63)) bad++;
      sum += out[size >> 1];
    }
  } else {
    for (let i = 0; i < count; i++) {
      let n;
      while ((n = ring.popInto(out)) < 0);
      if (n !== size || out[0] !== (i & 63) || out[size - 1] !== (i & 63)) bad++;
      sum += out[size >> 1];
    }
  }
  parentPort.postMessage({ start: String(start), end: String(process.hrtime.bigint()), bad, sum });
`;

function startRingWorker(data) {
  const w = new Worker(ringWorker, { eval: true, workerData: data });
  const next = () =>
    new Promise((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
  const ready = next();
  return { ready, done: ready.then(next) };
}

/**
 * Moves `count` messages of `size` bytes through a ring between two worker threads.
 * Resolves with { msgsPerSec, received, expectedSum, sum, bad }.
 */
export async function ringTransfer(impl, size, count) {
  const sab =
    impl === 'ringbuf'
      ? RingBuffer.getStorageForCapacity(CAPACITY, Uint8Array)
      : new SpscRing(CAPACITY).buffer;
  const control = new SharedArrayBuffer(4);
  const common = {
    impl,
    size,
    count,
    sab,
    control,
    zerosockEntry: require.resolve('zerosock'),
    ringbufEntry: require.resolve('ringbuf.js'),
  };
  const producer = startRingWorker({ ...common, role: 'producer' });
  const consumer = startRingWorker({ ...common, role: 'consumer' });
  await Promise.all([producer.ready, consumer.ready]);
  const go = new Int32Array(control);
  Atomics.store(go, 0, 1);
  Atomics.notify(go, 0);
  const [p, c] = await Promise.all([producer.done, consumer.done]);
  const start = BigInt(p.start) < BigInt(c.start) ? BigInt(p.start) : BigInt(c.start);
  const seconds = Number(BigInt(c.end) - start) / 1e9;
  // Every message i is filled with i & 63: the consumer's sum of middle bytes is known.
  let expectedSum = 0;
  for (let i = 0; i < count; i++) expectedSum += i & 63;
  return { msgsPerSec: count / seconds, received: count, bad: c.bad, sum: c.sum, expectedSum };
}

const POOL_SCRIPT = fileURLToPath(new URL('../pool.mjs', import.meta.url));
export const POOL_SIDES = {
  zerosock: 'pool.acquire()+release()',
  baseline: 'Buffer.allocUnsafe(64 KiB)',
};

/** One side of benchmark/pool.mjs's GC loop in a fresh process: { ns, cycles, loop, … }. */
export async function poolLoop(side, loop) {
  const { stdout } = await run(
    process.execPath,
    ['--expose-gc', POOL_SCRIPT, '--gc-child', POOL_SIDES[side], String(loop)],
    { encoding: 'utf8', timeout: 120_000 },
  );
  return JSON.parse(stdout.trim().split('\n').pop());
}
