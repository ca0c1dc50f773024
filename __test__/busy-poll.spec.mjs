// Busy polling (busyPollUs): the JS thread spins before the event loop would sleep, only while
// a socket that asked for it is open. Latency is a benchmark (benchmark/, "busyPollUs" rows);
// here: replies stay correct, the spin happens and finds work, it stops with the last socket,
// and bad values are typed errors.
import test from 'ava';
import { spawn } from 'node:child_process';
import { connect, createServer, stats } from 'zerosock';
import { backends, once, within } from './helpers.mjs';

/** A node:net echo server in another process (replies come from elsewhere, as in production). */
async function echoPeer(t) {
  const child = spawn(
    process.execPath,
    [
      '-e',
      `const s = require('node:net').createServer((c) => { c.setNoDelay(true); c.pipe(c); });
       s.listen(0, '127.0.0.1', () => console.log(s.address().port));
       process.stdin.on('end', () => process.exit(0)); process.stdin.resume();`,
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  t.teardown(() => child.kill());
  const [line] = await within(once(child.stdout, 'data'), 10_000, 'echo peer');
  return Number(String(line).trim());
}

/** `rounds` 64 B request/reply round trips; every reply must equal its request. */
async function pingPong(t, backend, busyPollUs, rounds) {
  const port = await echoPeer(t);
  const c = await connect({ port, host: '127.0.0.1', backend, busyPollUs });
  const engine = c.engine;
  const during = { budget: engine.busyPoll };
  let bad = 0;
  let got = Buffer.alloc(0);
  await within(
    new Promise((resolve) => {
      let i = 0;
      const request = () => Buffer.alloc(64, i & 0xff);
      c.on('data', (v) => {
        got = Buffer.concat([got, v]);
        if (got.length < 64) return;
        if (!got.subarray(0, 64).equals(request())) bad++;
        got = got.subarray(64);
        if (++i === rounds) return resolve();
        c.send(request());
      });
      c.send(request());
    }),
    30_000,
    'ping-pong',
  );
  c.destroy();
  await once(c, 'close');
  return { bad, engine, during };
}

for (const backend of backends) {
  test.serial(
    `${backend}: busyPollUs spins before the loop sleeps and finds the replies`,
    async (t) => {
      const before = stats()[backend];
      const { bad, engine, during } = await pingPong(t, backend, 1000, 500);
      t.is(bad, 0);
      t.is(during.budget, 1000, 'the largest budget of the open sockets applies');
      const s = engine.native.stats();
      const polls = s.busyPolls - (before?.busyPolls ?? 0);
      const hits = s.busyPollHits - (before?.busyPollHits ?? 0);
      t.true(polls >= 250, `spins: ${polls}`);
      // Under load the peer may miss a spin's budget; one hit shows the spin sees replies.
      t.log(`spins that found work: ${hits} of ${polls}`);
      t.true(hits > 0, `spins that found work: ${hits} of ${polls}`);
      t.is(engine.busyPoll, 0, 'off again once the last socket that asked closed');
    },
  );

  test.serial(`${backend}: without busyPollUs the loop never spins`, async (t) => {
    const { bad, engine, during } = await pingPong(t, backend, undefined, 200);
    const spins = engine.native.stats().busyPolls;
    const again = await pingPong(t, backend, 0, 200);
    t.is(bad + again.bad, 0);
    t.is(during.budget, 0);
    t.is(engine.native.stats().busyPolls, spins);
  });

  test.serial(`${backend}: no spin while the loop has immediates waiting`, async (t) => {
    // A sender that yields with setImmediate never lets libuv block: a spin there would only
    // burn the budget once per turn (it cost a one-way sender ~60% of its rate before).
    const port = await echoPeer(t);
    const c = await connect({ port, host: '127.0.0.1', backend, busyPollUs: 1000 });
    t.teardown(() => c.destroy());
    c.on('data', () => {});
    const engine = c.engine;
    const spins0 = engine.native.stats().busyPolls;
    const t0 = performance.now();
    const turns = 300;
    for (let i = 0; i < turns; i++) {
      c.send(Buffer.alloc(64, i & 0xff));
      await new Promise((r) => setImmediate(r));
    }
    const spins = engine.native.stats().busyPolls - spins0;
    t.log(`${spins} spins in ${turns} turns, ${(performance.now() - t0).toFixed(1)} ms`);
    t.true(spins < turns / 10, `${spins} spins in ${turns} turns`);
  });

  test(`${backend}: bad busyPollUs values are typed errors`, async (t) => {
    for (const [value, code] of [
      [-1, 'ERR_OUT_OF_RANGE'],
      [10_001, 'ERR_OUT_OF_RANGE'],
      [1.5, 'ERR_INVALID_ARG_TYPE'],
      ['50', 'ERR_INVALID_ARG_TYPE'],
    ]) {
      t.throws(() => createServer({ backend, busyPollUs: value }), { code });
      await t.throwsAsync(connect({ port: 1, host: '127.0.0.1', backend, busyPollUs: value }), {
        code,
      });
    }
  });
}
