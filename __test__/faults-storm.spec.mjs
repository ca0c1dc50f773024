// Connect storm: a child process fires 10 000 zerosock connects in one burst (every 5th to a
// port nobody listens on) at a zerosock echo server in this process. Every connect settles:
// refused ones with ECONNREFUSED, the others echo their bytes and close. Neither process
// leaks a descriptor, a pool buffer or an engine socket. (The client runs in its own process
// so that neither side needs more than ~10 000 descriptors.)
import test from 'ava';
import { createServer } from 'zerosock';
import { backends, until, within } from './helpers.mjs';
import { backToBaseline, closedPort, envInt, peer, snapshot, warmUp } from './faults-helpers.mjs';

const N = envInt('ZEROSOCK_STORM_CONNECTS', 10_000);
const REFUSED_EVERY = 5;

for (const backend of backends) {
  test.serial(
    `${backend}: a burst of ${N} connects, every ${REFUSED_EVERY}th refused`,
    async (t) => {
      await warmUp(backend);
      const base = snapshot(backend);
      let accepted = 0;
      let echoed = 0;
      const server = createServer({ backend }, (sock) => {
        accepted++;
        sock.on('data', (v) => {
          echoed++;
          sock.send(v);
        });
        sock.on('end', () => sock.end());
        sock.on('error', () => {});
      });
      await server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 });
      // A failed assertion below must not leave the server open (ava would wait for exit).
      t.teardown(() => {
        server.closeAllConnections();
        return server.close();
      });
      const refusedPort = await closedPort();
      const p = peer(t, [
        'storm',
        backend,
        String(server.address().port),
        String(refusedPort),
        String(N),
        String(REFUSED_EVERY),
      ]);
      const result = await p.next((m) => m.type === 'result', 150_000);
      const { code, signal } = await within(p.exited, 10_000, 'storm process exit');
      t.is(code, 0, `storm process exit ${code} ${signal} ${p.stderr}`);
      const refused = Math.ceil(N / REFUSED_EVERY);
      t.is(
        result.unsettled,
        undefined,
        `${result.unsettled} connects never settled: ${JSON.stringify(result.stages)} ${JSON.stringify(result.stats)}`,
      );
      t.is(result.settled, N, 'every connect promise settled');
      t.is(result.ok, N - refused, `outcomes ${JSON.stringify(result.codes)}`);
      t.deepEqual(result.codes, { ECONNREFUSED: refused });
      t.is(result.fdsAfter, result.fdsBefore, 'no fd leak in the storm process');
      t.is(result.openSockets, 0, 'no engine socket left in the storm process');
      t.is(result.poolInUse, result.poolBefore, 'pool back to baseline in the storm process');
      await until(() => server.connectionCount === 0, 20_000);
      t.is(accepted, N - refused + 1, 'the server accepted every connect that was not refused');
      t.true(echoed >= N - refused);
      t.log(`${N} connects (${refused} refused) settled in ${result.ms} ms on ${backend}`);
      await within(server.close(), 10_000, 'server.close');
      await backToBaseline(t, backend, base);
    },
  );
}
