// The stranded-submit checks can fail: a submit stranded on purpose (peers/strand.mjs, a raw
// native send from a timer that skips the JS write path) is counted in stats().strandedSubmits
// and its bytes still reach the peer, a node:net sink in the same process or in another one; under ZEROSOCK_DEBUG=1 (how the whole suite runs) it is an
// uncaught ERR_ZEROSOCK_STRANDED_SUBMIT. Every other spec relies on that second behaviour to
// fail on a stranded turn, so this is what makes those checks real.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { probe } from 'zerosock';

const script = fileURLToPath(new URL('./peers/strand.mjs', import.meta.url));
const backends = probe().ioUring.available ? ['io_uring', 'epoll'] : ['epoll'];
if (backends.length === 1) console.log('io_uring not available here: io_uring cases skipped');

const run = (backend, where, debug) =>
  spawnSync(process.execPath, [script, backend, where], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, ZEROSOCK_DEBUG: debug ? '1' : '0' },
  });

for (const backend of backends) {
  for (const where of ['same', 'child']) {
    const peer =
      where === 'same' ? 'a net peer in the same process' : 'a net peer in a child process';
    test(`${backend}: a stranded submit is counted, and its bytes still arrive (${peer})`, (t) => {
      const r = run(backend, where, false);
      t.is(r.status, 0, r.stderr);
      const out = JSON.parse(r.stdout.trim().split('\n').pop());
      t.is(out.bytes, 64 << 20);
      t.true(out.sameBytes, 'SHA-256 of what arrived');
      t.true(out.strandedSubmits >= 1, `strandedSubmits ${out.strandedSubmits}`);
    });

    test(`${backend}: under ZEROSOCK_DEBUG=1 a stranded submit is an uncaught ERR_ZEROSOCK_STRANDED_SUBMIT (${peer})`, (t) => {
      const r = run(backend, where, true);
      t.not(r.status, 0, r.stdout);
      t.regex(r.stderr, /ERR_ZEROSOCK_STRANDED_SUBMIT/);
    });
  }
}
