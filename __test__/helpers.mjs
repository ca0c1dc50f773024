// Shared helpers of the ava suite: which backends to run, checksums, fd counting, bounded waits.
import { createHash, randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { probe } from 'zerosock';

const report = probe();

/** Every backend this machine can run, each test runs on all of them. */
export const backends =
  report.ioUring.available && report.backend === 'io_uring' ? ['io_uring', 'epoll'] : ['epoll'];
if (!backends.includes('io_uring')) {
  console.log(
    `io_uring tests skipped: ${report.ioUring.error ?? 'the io_uring backend is not usable here'}`,
  );
}

/** Open file descriptors of this process. */
export const fdCount = () => readdirSync('/proc/self/fd').length;

export const sha256 = () => createHash('sha256');

/** Deterministic pseudo-random bytes (fast, seedable) for big payloads. */
export function pattern(len, seed = 1) {
  const out = Buffer.allocUnsafe(len);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < len; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

export const random = (n) => randomBytes(n);

/** SHA-256 of `pattern(block, seed)` repeated up to `bytes` (a 1 GiB stream, a 4 MiB block). */
export function repeatedSha(bytes, block, seed) {
  const data = pattern(block, seed);
  const h = sha256();
  for (let at = 0; at < bytes; at += block) h.update(data.subarray(0, Math.min(block, bytes - at)));
  return h.digest('hex');
}

/** Resolves when `emitter` emits `event`, rejects on 'error' or after `ms`. */
export function once(emitter, event, ms = 20_000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for '${event}'`)), ms);
    const onError = (err) => {
      clearTimeout(timer);
      emitter.off(event, onEvent);
      reject(err);
    };
    const onEvent = (...args) => {
      clearTimeout(timer);
      emitter.off('error', onError);
      resolve(args);
    };
    emitter.once(event, onEvent);
    if (event !== 'error') emitter.once('error', onError);
  });
}

/** Waits until `cond()` is true, polling each `step` ms, at most `ms`. */
export async function until(cond, ms = 10_000, step = 5) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, step));
  }
}

/** Races `promise` against a timeout. */
export function within(promise, ms, what = 'operation') {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
    }),
  ]);
}

/**
 * A node:net echo server in another process (replies come from elsewhere, as in production),
 * replying after `delayMs` (0: at once).
 */
export async function netEchoPeer(t, delayMs = 0) {
  const reply = delayMs
    ? `c.on('data', (d) => setTimeout(() => c.write(d), ${delayMs}));`
    : 'c.pipe(c);';
  const child = spawn(
    process.execPath,
    [
      '-e',
      `const s = require('node:net').createServer((c) => { c.setNoDelay(true); ${reply} });
       s.listen(0, '127.0.0.1', () => console.log(s.address().port));
       process.stdin.on('end', () => process.exit(0)); process.stdin.resume();`,
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  t.teardown(() => child.kill());
  const [line] = await within(once(child.stdout, 'data'), 10_000, 'echo peer');
  return Number(String(line).trim());
}
