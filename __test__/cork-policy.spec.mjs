// Conformance: the JS auto-cork rules (ts/net/socket/cork-policy.ts, used by Socket.send) and crates/cork's
// CorkPolicy make the same decisions on the same random traces.
import test from 'ava';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { replayCork, FLUSH_REASONS } = require('../dist/cjs/net/socket/cork-policy.js');
const { native } = require('../dist/cjs/core/native.js');

function randomTrace(seed, len) {
  let x = seed >>> 0 || 1;
  const rnd = (n) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
  const steps = [];
  for (let i = 0; i < len; i++) {
    const r = rnd(100);
    if (r < 55) steps.push(1, rnd(10) < 9 ? 1 + rnd(300) : 1 + rnd(70_000));
    else if (r < 60) steps.push(2, 0);
    else if (r < 80) steps.push(3, 0);
    else if (r < 92) steps.push(4, rnd(100_000));
    else if (r < 97) steps.push(5, 0);
    else if (r < 98) steps.push(6, 0);
    else steps.push(9, 0); // unknown steps are ignored by both
  }
  return Int32Array.from(steps);
}

const policies = [
  { maxBytes: 65536, maxDelayUs: 50, largeSend: 16384, enabled: true },
  { maxBytes: 4096, maxDelayUs: 0, largeSend: 16384, enabled: true },
  { maxBytes: 1000, maxDelayUs: 1000, largeSend: 800, enabled: true },
  { maxBytes: 65536, maxDelayUs: 0, largeSend: 16384, enabled: false },
];

test('JS and Rust cork policies agree on 2 000 random traces', (t) => {
  let flushes = 0;
  for (let seed = 1; seed <= 500; seed++) {
    for (const p of policies) {
      const trace = randomTrace(seed * 7919, 200);
      const js = Array.from(replayCork(p, trace));
      const rust = Array.from(native.corkReplay(p, trace));
      if (js.join() !== rust.join()) {
        t.fail(
          `seed ${seed} policy ${JSON.stringify(p)}: js ${js.slice(0, 20)} rust ${rust.slice(0, 20)}`,
        );
        return;
      }
      flushes += js.length / 2;
    }
  }
  t.true(flushes > 10_000, `only ${flushes} flushes exercised`);
});

test('the reason tables of both sides name the same reasons in the same order', (t) => {
  t.deepEqual(
    [...FLUSH_REASONS],
    ['full', 'endOfTick', 'timer', 'explicit', 'largeSend', 'completion', 'end'],
  );
  // One flush per reason, provoked from the Rust side, decoded with the JS table.
  const p = { maxBytes: 100, maxDelayUs: 10, largeSend: 90, enabled: true };
  const trace = Int32Array.from([
    ...[1, 10, 3, 0, 4, 10], // endOfTick
    ...[1, 60, 1, 60], // full
    ...[3, 0, 5, 0], // held behind the in-flight flush, then the timer
    ...[1, 5, 2, 0], // explicit
    ...[1, 5, 1, 95], // largeSend, then the message directly
    ...[1, 5, 3, 0, 4, 225], // held, then released by the completion
    ...[1, 1, 6, 0], // end
  ]);
  const rust = Array.from(native.corkReplay(p, trace));
  const reasons = [];
  for (let i = 0; i < rust.length; i += 2)
    reasons.push(rust[i] < 0 ? 'direct' : FLUSH_REASONS[rust[i]]);
  t.deepEqual(Array.from(replayCork(p, trace)), rust);
  t.deepEqual(reasons, [
    'endOfTick',
    'full',
    'timer',
    'explicit',
    'largeSend',
    'direct',
    'completion',
    'end',
  ]);
});
