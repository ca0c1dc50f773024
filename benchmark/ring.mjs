// `node benchmark/ring.mjs`: zerosock's SpscRing vs the ringbuf.js npm package, in the same run.
//
// 1. Single thread (benchmark.js): push one message, pop it again.
// 2. Two worker_threads: a producer pushes N messages, a consumer pops them (both spin when
//    full/empty), messages per second over the whole transfer; median of REPEATS runs.
//
// Both rings get 64 KiB of data capacity. ringbuf.js is a byte stream; messages are fixed-size
// here, so it needs no length prefix (the most favourable framing for it): the producer checks
// availableWrite() >= size before push (so no message is ever split) and the consumer
// availableRead() >= size before pop. Like-for-like rows compare per-message calls that copy
// into / out of caller memory on both sides; extra zerosock rows show the allocating pop() and
// batches. Options: --quick (fewer messages), --no-write (don't write results/).
import Benchmark from 'benchmark';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { RingBuffer } from 'ringbuf.js';
import { SpscRing } from 'zerosock';

const require = createRequire(import.meta.url);
const quick = process.argv.includes('--quick');
const CAPACITY = 1 << 16;
const SIZES = [64, 1024];
const COUNTS = { 64: quick ? 500_000 : 3_000_000, 1024: quick ? 200_000 : 1_000_000 };
const REPEATS = quick ? 1 : 5;
const BATCH = 32;

const machine = {
  cpu: os.cpus()[0]?.model ?? 'unknown',
  cores: os.cpus().length,
  kernel: `${os.type()} ${os.release()}`,
  node: process.version,
  loadavgAtStart: os.loadavg().map((x) => Number(x.toFixed(2))),
};
console.log(
  `ring bench — ${machine.cpu}, ${machine.cores} cores, ${machine.kernel}, node ${machine.node}, ` +
    `load ${machine.loadavgAtStart.join(' ')}`,
);

const messages = (size) =>
  Array.from({ length: 64 }, (_, i) => new Uint8Array(size).fill(i & 0xff));

// ------------------------------------------------------------------ 1. single thread

function singleThread(size) {
  const msgs = messages(size);
  const out = new Uint8Array(size);
  const zs = new SpscRing(CAPACITY);
  const rb = new RingBuffer(RingBuffer.getStorageForCapacity(CAPACITY, Uint8Array), Uint8Array);
  let i = 0;
  let sink = 0;
  const results = {};
  const suite = new Benchmark.Suite();
  suite
    .add('zerosock push+popInto', () => {
      zs.push(msgs[i++ & 63]);
      zs.popInto(out);
      sink += out[0];
    })
    .add('ringbuf.js push+pop', () => {
      const m = msgs[i++ & 63];
      if (rb.availableWrite() >= size) rb.push(m);
      if (rb.availableRead() >= size) rb.pop(out);
      sink += out[0];
    })
    .add('zerosock push+pop (allocating copy)', () => {
      zs.push(msgs[i++ & 63]);
      sink += zs.pop()[0];
    })
    .add(`zerosock pushBatch+popWith x${BATCH} (zero-copy)`, () => {
      const start = (i += BATCH) & 63 & ~(BATCH - 1);
      zs.pushBatch(msgs, start, start + BATCH);
      zs.popWith((data, off) => {
        sink += data[off];
      });
    })
    .on('cycle', (e) => {
      const b = e.target;
      const perOp = b.name.includes(`x${BATCH}`) ? BATCH : 1;
      results[b.name] = {
        msgsPerSec: b.hz * perOp,
        rme: b.stats.rme,
        samples: b.stats.sample.length,
      };
      console.log(`  ${size} B  ${String(b)}`);
    })
    .run({ async: false });
  if (sink === -1) console.log(sink);
  return results;
}

// ------------------------------------------------------------------ 2. two workers

const workerCode = `
  const { workerData: w, parentPort } = require('node:worker_threads');
  const go = new Int32Array(w.control);
  const msgs = Array.from({ length: 64 }, (_, i) => new Uint8Array(w.size).fill(i & 0xff));
  const out = new Uint8Array(w.size);
  const size = w.size, count = w.count;
  let ring, rb;
  if (w.impl === 'ringbuf') {
    const { RingBuffer } = require(w.ringbufEntry);
    rb = new RingBuffer(w.sab, Uint8Array);
  } else {
    ring = require(w.zerosockEntry).SpscRing.from(w.sab);
  }
  parentPort.postMessage('ready');
  Atomics.wait(go, 0, 0);
  const start = process.hrtime.bigint();
  let bad = 0;
  if (w.role === 'producer') {
    if (w.impl === 'ringbuf') {
      for (let i = 0; i < count; i++) {
        while (rb.availableWrite() < size);
        rb.push(msgs[i & 63]);
      }
    } else if (w.impl === 'zerosock-batch') {
      for (let i = 0; i < count; ) {
        const s = i & 63;
        const n = ring.pushBatch(msgs, s, Math.min(s + w.batch, 64, s + count - i));
        i += n;
      }
    } else {
      for (let i = 0; i < count; i++) {
        const m = msgs[i & 63];
        while (!ring.push(m));
      }
    }
  } else {
    if (w.impl === 'ringbuf') {
      for (let i = 0; i < count; i++) {
        while (rb.availableRead() < size);
        rb.pop(out);
        if (out[0] !== (i & 63)) bad++;
      }
    } else if (w.impl === 'zerosock-batch') {
      let i = 0;
      const visit = (data, off) => {
        if (data[off] !== (i & 63)) bad++;
        i++;
      };
      while (i < count) ring.popWith(visit);
    } else if (w.impl === 'zerosock-alloc') {
      for (let i = 0; i < count; i++) {
        let m;
        while ((m = ring.pop()) === null);
        if (m[0] !== (i & 63)) bad++;
      }
    } else {
      for (let i = 0; i < count; i++) {
        while (ring.popInto(out) < 0);
        if (out[0] !== (i & 63)) bad++;
      }
    }
  }
  parentPort.postMessage({ start: String(start), end: String(process.hrtime.bigint()), bad });
`;

function startWorker(data) {
  const w = new Worker(workerCode, { eval: true, workerData: data });
  const ready = new Promise((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
  const done = ready.then(
    () =>
      new Promise((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
      }),
  );
  return { ready, done };
}

async function twoWorkers(impl, size, count = COUNTS[size]) {
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
    batch: BATCH,
    zerosockEntry: require.resolve('zerosock'),
    ringbufEntry: require.resolve('ringbuf.js'),
  };
  // The consumer's mode decides the zerosock variant; the producer only needs batch or not.
  const producerImpl = impl === 'zerosock-alloc' ? 'zerosock' : impl;
  const producer = startWorker({ ...common, impl: producerImpl, role: 'producer' });
  const consumer = startWorker({ ...common, role: 'consumer' });
  await Promise.all([producer.ready, consumer.ready]);
  Atomics.store(new Int32Array(control), 0, 1);
  Atomics.notify(new Int32Array(control), 0);
  const [p, c] = await Promise.all([producer.done, consumer.done]);
  if (c.bad !== 0) throw new Error(`${impl}: ${c.bad} messages out of order`);
  const start = BigInt(p.start) < BigInt(c.start) ? BigInt(p.start) : BigInt(c.start);
  const seconds = Number(BigInt(c.end) - start) / 1e9;
  return count / seconds;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// ------------------------------------------------------------------ run

const rows = [];
const row = (workload, zerosock, ringbuf, note = '', runs = undefined) =>
  rows.push({
    workload,
    zerosockMsgsPerSec: zerosock,
    ringbufMsgsPerSec: ringbuf,
    // Two-worker rows: each zerosock run divided by the ringbuf.js run of the same round
    // (adjacent in time), so load from other processes mostly cancels out.
    pairedRatioMedian: runs && median(runs.zerosock.map((z, i) => z / runs.ringbuf[i])),
    runs,
    note,
  });

console.log('single thread (benchmark.js):');
for (const size of SIZES) {
  const r = singleThread(size);
  row(
    `1 thread, ${size} B, push+pop per message`,
    r['zerosock push+popInto'].msgsPerSec,
    r['ringbuf.js push+pop'].msgsPerSec,
    'zerosock popInto vs ringbuf.js pop, both into caller memory',
  );
  row(
    `1 thread, ${size} B, push + allocating pop()`,
    r['zerosock push+pop (allocating copy)'].msgsPerSec,
    r['ringbuf.js push+pop'].msgsPerSec,
    'zerosock returns a new Uint8Array per message; ringbuf.js copies into caller memory',
  );
  row(
    `1 thread, ${size} B, batches of ${BATCH}`,
    r[`zerosock pushBatch+popWith x${BATCH} (zero-copy)`].msgsPerSec,
    r['ringbuf.js push+pop'].msgsPerSec,
    'zerosock pushBatch + zero-copy popWith; ringbuf.js has no message batch (its per-message row)',
  );
}

console.log(`two workers (median of ${REPEATS}, after a discarded warm-up run each):`);
const impls = ['zerosock', 'ringbuf', 'zerosock-alloc', 'zerosock-batch'];
for (const size of SIZES) {
  for (const impl of impls) await twoWorkers(impl, size, COUNTS[size] / 10);
  const runs = Object.fromEntries(impls.map((i) => [i, []]));
  for (let rep = 0; rep < REPEATS; rep++) {
    for (const impl of impls) runs[impl].push(await twoWorkers(impl, size));
  }
  const m = Object.fromEntries(impls.map((i) => [i, median(runs[i])]));
  for (const impl of impls) {
    console.log(
      `  ${size} B  ${impl.padEnd(15)} ${(m[impl] / 1e6).toFixed(2)} M msgs/s  ` +
        `(runs: ${runs[impl].map((x) => (x / 1e6).toFixed(2)).join(', ')})`,
    );
  }
  row(
    `2 workers, ${size} B, per message`,
    m.zerosock,
    m.ringbuf,
    'push / popInto vs push / pop, both into caller memory',
    { zerosock: runs['zerosock'], ringbuf: runs.ringbuf },
  );
  row(
    `2 workers, ${size} B, allocating pop()`,
    m['zerosock-alloc'],
    m.ringbuf,
    'zerosock push / pop() returning a new Uint8Array',
    { zerosock: runs['zerosock-alloc'], ringbuf: runs.ringbuf },
  );
  row(
    `2 workers, ${size} B, batches of ${BATCH}`,
    m['zerosock-batch'],
    m.ringbuf,
    'zerosock pushBatch / zero-copy popWith vs ringbuf.js per message',
    { zerosock: runs['zerosock-batch'], ringbuf: runs.ringbuf },
  );
}
machine.loadavgAtEnd = os.loadavg().map((x) => Number(x.toFixed(2)));

const fmt = (x) => `${(x / 1e6).toFixed(2)} M`;
const header =
  '| workload | zerosock msgs/s | ringbuf.js msgs/s | ratio | paired ratio (median) | note |';
const table = [
  header,
  '|---|---:|---:|---:|---:|---|',
  ...rows.map(
    (r) =>
      `| ${r.workload} | ${fmt(r.zerosockMsgsPerSec)} | ${fmt(r.ringbufMsgsPerSec)} | ` +
      `${(r.zerosockMsgsPerSec / r.ringbufMsgsPerSec).toFixed(2)}x | ` +
      `${r.pairedRatioMedian === undefined ? '–' : `${r.pairedRatioMedian.toFixed(2)}x`} | ${r.note} |`,
  ),
].join('\n');
console.log(`\n${table}\n`);

if (!process.argv.includes('--no-write')) {
  const date = new Date().toISOString().slice(0, 10);
  const dir = new URL('./results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  const config = { capacityBytes: CAPACITY, counts: COUNTS, repeats: REPEATS, batch: BATCH };
  const ringbufVersion = JSON.parse(
    readFileSync(join(dirname(require.resolve('ringbuf.js')), '..', 'package.json'), 'utf8'),
  ).version;
  writeFileSync(
    new URL(`ring-${date}.json`, dir),
    JSON.stringify(
      {
        date,
        machine,
        config,
        ringbufVersion,
        rows: rows.map((r) => ({ ...r, ratio: r.zerosockMsgsPerSec / r.ringbufMsgsPerSec })),
      },
      null,
      2,
    ) + '\n',
  );
  writeFileSync(
    new URL(`ring-${date}.md`, dir),
    `# Ring benchmark ${date}\n\n` +
      `zerosock SpscRing vs ringbuf.js ${ringbufVersion}, measured in the same run ` +
      '(`node benchmark/ring.mjs`).\n\n' +
      `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.kernel}, node ${machine.node}; ` +
      `load average ${machine.loadavgAtStart.join(' ')} at start, ${machine.loadavgAtEnd.join(' ')} at end ` +
      '(the machine is shared, so absolute numbers are noisy).\n\n' +
      `Config: ${CAPACITY} B data capacity for both rings; two-worker runs move ` +
      `${COUNTS[64]} × 64 B and ${COUNTS[1024]} × 1 KB messages, median of ${REPEATS} ` +
      '(after a discarded warm-up run), implementations interleaved; ' +
      'both sides busy-spin when full/empty. ringbuf.js carries fixed-size messages without a ' +
      'length prefix and checks availableWrite/availableRead so no message is split. ' +
      '"paired ratio" is the median over rounds of zerosock/ringbuf.js runs made back to back, ' +
      'which is steadier than the ratio of medians when other processes load the machine.\n\n' +
      `${table}\n`,
  );
  console.log(`wrote benchmark/results/ring-${date}.json and .md`);
}
