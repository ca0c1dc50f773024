// The ceiling of the `msgs` workload's own harness, with no socket at all: how many messages/s
// one process can make (makeMessage, as the sender does) and check (MessageChecker over 4 KiB
// chunks, as the receiver does). A transport can't be measured faster than this, so it bounds
// the ratio the `msgs` rows can show against node:net's write() per message.
//
//   node benchmark/msgs-ceiling.mjs [--ms 2000] [--json FILE]
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { MessageChecker, makeMessage, messageTemplate } from './lib/payload.mjs';

const arg = (name) => {
  const i = process.argv.indexOf(name);
  return i < 0 ? undefined : process.argv[i + 1];
};
const ms = Number(arg('--ms')) || 2000;

/** Runs `fn(count)` in rounds for `ms` and returns messages/s. */
function rate(fn) {
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < ms) n += fn(n);
  return n / ((performance.now() - t0) / 1000);
}

const out = [];
for (const size of [64, 1024]) {
  const tpl = messageTemplate(size);
  const perChunk = Math.max(1, Math.floor(4096 / size));
  const chunk = Buffer.allocUnsafe(perChunk * size);
  let sink = 0;
  const make = rate((seq) => {
    for (let i = 0; i < 10_000; i++) sink += makeMessage(tpl, seq + i).length;
    return 10_000;
  });
  const checker = new MessageChecker(size);
  const check = rate((seq) => {
    for (let i = 0; i < perChunk; i++) {
      tpl.copy(chunk, i * size);
      chunk.writeUInt32LE((seq + i) >>> 0, i * size);
    }
    checker.push(chunk);
    return perChunk;
  });
  if (checker.badSeq !== 0 || sink === 0) throw new Error('ceiling run checked wrong');
  const both = 1 / (1 / make + 1 / check);
  out.push({ size, makePerSec: make, checkPerSec: check, bothInOneCorePerSec: both });
}
const fmt = (x) => `${(x / 1e6).toFixed(2)} M/s`;
console.log('| size | make (sender) | check (receiver) | both on one core |');
console.log('| --- | --- | --- | --- |');
for (const r of out) {
  console.log(
    `| ${r.size} B | ${fmt(r.makePerSec)} | ${fmt(r.checkPerSec)} | ${fmt(r.bothInOneCorePerSec)} |`,
  );
}
const json = arg('--json');
if (json !== undefined) {
  const machine = {
    cpus: os.cpus().length,
    cpu: os.cpus()[0]?.model,
    kernel: os.release(),
    node: process.version,
    date: new Date().toISOString(),
  };
  writeFileSync(json, `${JSON.stringify({ machine, ms, results: out }, null, 2)}\n`);
}
