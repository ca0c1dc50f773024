// `npm run bench` smoke test: every workload at a tiny size through the same code
// (`benchmark/run.mjs --smoke`), then the JSON shape and the receiver-side checks of both
// implementations; plus the message checker on corrupted streams (so the checks can fail).
import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  makeMessage,
  MessageChecker,
  messagesCrc,
  messageTemplate,
} from '../benchmark/lib/payload.mjs';

const run = promisify(execFile);
const RUN = fileURLToPath(new URL('../benchmark/run.mjs', import.meta.url));
const WORKLOADS = ['msgs', 'stream', 'latency', 'echo', 'paced', 'idle', 'uds', 'ring', 'pool'];

test('bench --smoke: every workload runs, both sides agree on counts and checksums', async (t) => {
  t.timeout(120_000);
  const dir = mkdtempSync(join(tmpdir(), 'zerosock-bench-'));
  try {
    const file = join(dir, 'smoke.json');
    const { stdout } = await run(process.execPath, [RUN, '--smoke', '--no-write', '--json', file], {
      timeout: 110_000,
      maxBuffer: 16 << 20,
    });
    t.regex(stdout, /0 failed checks/);
    const res = JSON.parse(readFileSync(file, 'utf8'));

    t.is(res.schema, 'zerosock-bench/1');
    t.is(res.mode, 'smoke');
    t.true(res.verified);
    t.deepEqual(res.workloads, WORKLOADS);
    for (const k of ['cpu', 'cores', 'kernel', 'node', 'loadavgStart', 'loadavgEnd']) {
      t.not(res.machine[k], undefined, `machine.${k}`);
    }
    t.true(res.zerosock.backends.includes('epoll'));
    t.is(typeof res.zerosock.probe.features, 'object');
    const backends = res.zerosock.backends;

    // Rows: every workload has rows, with a baseline, zerosock per backend and the ratio.
    t.deepEqual([...new Set(res.rows.map((r) => r.workload))], WORKLOADS);
    for (const r of res.rows) {
      t.true(r.verified, `${r.label}: ${r.problems.join('; ')}`);
      t.true(['higher', 'lower'].includes(r.better));
      for (const b of backends) {
        t.is(typeof r.zerosock[b].value, 'number', `${r.label} ${b}`);
        if (r.workload !== 'idle' && r.workload !== 'pool') {
          t.true(r.baseline.value > 0, `${r.label} baseline`);
          t.true(r.zerosock[b].value > 0, `${r.label} ${b}`);
          t.true(Number.isFinite(r.ratio[b]) && r.ratio[b] > 0, `${r.label} ratio ${b}`);
        }
      }
    }

    // Measurements: node:net and every zerosock backend ran each socket workload, and the
    // receiving process saw exactly what the sending process claims.
    const impls = ['net', ...backends.map((b) => `zerosock-${b}`)];
    for (const w of ['msgs', 'stream', 'latency', 'echo', 'paced', 'idle', 'uds']) {
      const ran = new Set(res.measurements.filter((m) => m.workload === w).map((m) => m.impl));
      t.deepEqual([...ran].sort(), [...impls].sort(), w);
    }
    for (const m of res.measurements) {
      t.is(m.runs.length, 1, m.key);
      const [run0] = m.runs;
      t.deepEqual(run0.problems, [], m.key);
      const { server, client, address } = run0.raw;
      const kind = m.params.kind ?? m.workload;
      if (m.workload === 'uds') {
        // Over a Unix socket: a fresh path under the temp dir per measurement, removed after.
        t.true(address.path.startsWith(tmpdir()), m.key);
        t.true(address.isSocket, m.key);
        t.false(existsSync(address.path), `${m.key}: ${address.path} left behind`);
      } else t.is(typeof address.port, 'number', m.key);
      if (kind === 'msgs' || kind === 'stream') {
        t.true(client.bytes > 0, m.key);
        t.is(server.bytes, client.bytes, m.key);
        t.is(server.crc, client.crc, m.key);
      }
      if (kind === 'msgs') {
        t.is(server.messages, client.messages, m.key);
        t.is(server.badSeq, 0, m.key);
        t.is(server.bytes, client.messages * m.params.size, m.key);
        if (m.impl !== 'net') t.true(client.socket.bytesPerFlush > 0, m.key);
      }
      if (kind === 'latency') {
        t.true(client.samples > 0, m.key);
        t.is(client.bad, 0, m.key);
        t.is(server.echoedBytes, client.sentBytes, m.key);
        t.true(client.p50Us > 0 && client.p99Us >= client.p50Us, m.key);
      }
      if (m.workload === 'echo' || m.workload === 'paced') {
        t.is(client.replies, client.requests, m.key);
        t.is(server.echoedBytes, client.requests * 64, m.key);
      }
      if (m.workload === 'paced') {
        // The client kept the rate it names, and the server counted requests in its window.
        t.is(client.rate, m.params.rate, m.key);
        t.true(client.achievedRate >= 0.9 * m.params.rate, m.key);
        t.true(server.window.requests > 0, m.key);
      }
      if (m.workload === 'idle') {
        t.is(server.conns, m.params.conns, m.key);
        t.is(client.conns, m.params.conns, m.key);
      }
    }
    for (const size of [64, 1024]) {
      const ring = res.micro.ring[size];
      t.is(ring.zerosock.length, 1);
      t.is(ring.ringbuf.length, 1);
      t.deepEqual(ring.problems, []);
    }
    t.is(res.micro.pool.zerosock.length, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bench: unknown workload is a usage error', async (t) => {
  const err = await t.throwsAsync(run(process.execPath, [RUN, '--only', 'nope', '--no-write']));
  t.is(err.code, 2);
  t.regex(err.stderr, /unknown workload "nope"/);
});

/** `count` messages of `size` as one buffer. */
function stream(size, count) {
  const tpl = messageTemplate(size);
  return Buffer.concat(Array.from({ length: count }, (_, i) => makeMessage(tpl, i)));
}

test('MessageChecker: any split gives the right count and the sender-side CRC', (t) => {
  for (const size of [4, 5, 64, 1024]) {
    const all = stream(size, 50);
    for (const step of [1, 3, 7, size - 1, size, size + 1, 4096]) {
      const c = new MessageChecker(size);
      for (let i = 0; i < all.length; i += step) c.push(all.subarray(i, i + step));
      t.is(c.messages, 50, `size ${size} step ${step}`);
      t.true(c.clean);
      t.is(c.crc, messagesCrc(messageTemplate(size), 50));
    }
  }
});

test('MessageChecker: reordered, corrupted and truncated streams are caught', (t) => {
  const size = 64;
  const all = stream(size, 10);
  const swapped = Buffer.concat([
    all.subarray(size, 2 * size),
    all.subarray(0, size),
    all.subarray(2 * size),
  ]);
  const a = new MessageChecker(size);
  a.push(swapped);
  t.is(a.badSeq, 2);
  t.false(a.clean);

  const flipped = Buffer.from(all);
  flipped[size * 3 + 10] ^= 1;
  const b = new MessageChecker(size);
  b.push(flipped);
  t.true(b.clean); // the sequence numbers are fine...
  t.not(b.crc, messagesCrc(messageTemplate(size), 10)); // ...the CRC is not

  const c = new MessageChecker(size);
  c.push(all.subarray(0, all.length - 5));
  t.false(c.clean);
  t.is(c.messages, 9);
});
