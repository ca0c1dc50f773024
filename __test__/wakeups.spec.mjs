// Wake-ups (issue: no extra cost at paced load, no spinning for nothing): with default options
// an idle connection costs the event loop no wake-up at all, and under a paced load from
// another process the adaptive busy polling spins only a small share of the time. Counted by
// the engine itself: `loopWakeups` (its notify fd woke the loop), `busyPolls`,
// `busyPollSpunUs`, `enters` / `epollWaits`. The CPU side is the benchmark's "paced" rows.
import test from 'ava';
import { spawn } from 'node:child_process';
import { connect, createServer, stats } from 'zerosock';
import { backends, netEchoPeer, once, within } from './helpers.mjs';

const PACED = new URL('./peers/paced-client.mjs', import.meta.url).pathname;
const COUNTERS = ['loopWakeups', 'busyPolls', 'busyPollSpunUs', 'enters', 'epollWaits'];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The engine counters of `backend` now. */
const counters = (backend) => {
  const s = stats()[backend];
  return Object.fromEntries(COUNTERS.map((k) => [k, s[k]]));
};
const delta = (a, b) => Object.fromEntries(COUNTERS.map((k) => [k, b[k] - a[k]]));

/** Runs `node args…`; resolves with its stdout once it exited 0. */
function run(t, args) {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => child.kill());
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  return new Promise((resolve, reject) => {
    child.on('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${args[0]} exited ${code}`)),
    );
  });
}

for (const backend of backends) {
  test.serial(
    `${backend}: an idle connection (server side and client side, defaults) wakes the loop 0 times in 1 s`,
    async (t) => {
      // Server side: a node:net client in another process, one exchange, then silence.
      const server = createServer({ backend }, (s) => s.on('data', (v) => s.send(v)));
      await server.listen({ port: 0, host: '127.0.0.1' });
      const { port } = server.address();
      const peer = spawn(
        process.execPath,
        [
          '-e',
          `const c = require('node:net').connect(${port}, '127.0.0.1', () => c.write('hi'));
           c.on('data', () => console.log('echoed'));
           process.stdin.on('end', () => process.exit(0)); process.stdin.resume();`,
        ],
        { stdio: ['pipe', 'pipe', 'inherit'] },
      );
      t.teardown(() => peer.kill());
      await within(once(peer.stdout, 'data'), 10_000, 'the echo');
      // Client side: a zerosock client of a node:net echo in another process.
      const c = await connect({ port: await netEchoPeer(t), host: '127.0.0.1', backend });
      c.send(Buffer.from('hello'));
      await within(once(c, 'data'), 10_000, 'the echo of the client');
      await sleep(200); // let the exchanges' last completions and the spin budget settle
      const before = counters(backend);
      await sleep(1000);
      const d = delta(before, counters(backend));
      t.log(JSON.stringify(d));
      t.is(d.loopWakeups, 0, 'no wake-up of the event loop for the engine');
      t.is(d.busyPolls, 0, 'no spin');
      t.is(d.enters + d.epollWaits, 0, 'no system call into the engine');
      t.is(stats()[backend].openSockets >= 3, true, 'the listener and both connections are open');
      c.destroy();
      peer.stdin.end();
      await server.close();
    },
  );

  test.serial(
    `${backend}: under a paced load from another process (2 000 req/s, 50 node:net connections), defaults spin under 5 % of the time`,
    async (t) => {
      const server = createServer({ backend }, (s) => s.on('data', (v) => s.send(v)));
      await server.listen({ port: 0, host: '127.0.0.1' });
      const before = counters(backend);
      const t0 = performance.now();
      const out = await within(
        run(t, [PACED, String(server.address().port), '50', '2000', '1500']),
        30_000,
        'the paced client',
      );
      const wallUs = (performance.now() - t0) * 1000;
      const d = delta(before, counters(backend));
      const r = JSON.parse(out);
      t.log(JSON.stringify({ ...r, ...d, spunShare: d.busyPollSpunUs / wallUs }));
      t.true(r.requests >= 2000, `${r.requests} requests`);
      t.is(r.replies, r.requests, 'every request answered');
      t.is(r.bad, 0, 'every reply equals its request');
      t.true(d.busyPollSpunUs / wallUs < 0.05, `spun ${d.busyPollSpunUs} µs of ${wallUs | 0}`);
      t.true(
        d.loopWakeups <= 2 * r.requests,
        `${d.loopWakeups} wake-ups for ${r.requests} requests`,
      );
      await server.close();
    },
  );
}
