// Server close with 1 000 open connections while data flows both ways and zerocopy sends are
// in flight: close() resolves, every client sees 'close', every send loop ends, every
// sendZeroCopy promise settles (fulfilled, or rejected with a typed error), and fds, pool
// buffers and engine sockets return to their baseline.
import test from 'ava';
import { connect, createServer } from 'zerosock';
import { backends, pattern, until, within } from './helpers.mjs';
import {
  backToBaseline,
  closeOf,
  envInt,
  pump,
  settleAll,
  snapshot,
  warmUp,
} from './faults-helpers.mjs';

const CONNS = envInt('ZEROSOCK_FAULT_CONNS', 1000);
const RESET_CODES = ['ECONNRESET', 'EPIPE'];

for (const backend of backends) {
  test.serial(
    `${backend}: server close with ${CONNS} open connections, sends and zerocopy in flight`,
    async (t) => {
      await warmUp(backend);
      const base = snapshot(backend);
      const zcPayload = pattern(64 * 1024, 77);
      const zcPromises = [];
      const serverCloses = [];
      let serverBytes = 0;
      const server = createServer({ backend }, (sock) => {
        serverCloses.push(closeOf(sock));
        sock.on('data', (v) => {
          serverBytes += v.byteLength;
          // Echo by copy, plus a zerocopy send now and then.
          if (!sock.destroyed && !sock.writableEnded) {
            sock.send(v);
            if (typeof sock.sendZeroCopy === 'function' && zcPromises.length < 20_000) {
              zcPromises.push(sock.sendZeroCopy(zcPayload));
            }
          }
        });
      });
      await server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 });
      const port = server.address().port;
      const clients = [];
      for (let i = 0; i < CONNS; i += 100) {
        const batch = await Promise.all(
          Array.from({ length: Math.min(100, CONNS - i) }, () =>
            connect({ port, host: '127.0.0.1', backend }),
          ),
        );
        clients.push(...batch);
      }
      await until(() => server.connectionCount === CONNS, 20_000);
      const clientCloses = clients.map((c) => closeOf(c));
      const chunk = pattern(16 * 1024, 5);
      let stop = false;
      const pumps = clients.map((c) => {
        c.on('data', () => {});
        return pump(c, chunk, () => stop);
      });
      // Let traffic build up, then pull the plug with everything in flight.
      await until(() => serverBytes > 32 << 20, 30_000).catch(() => {});
      t.true(serverBytes > 0, 'traffic flowed before the close');
      const started = Date.now();
      const closing = server.close();
      server.closeAllConnections();
      await within(closing, 30_000, 'server.close with open connections');
      t.is(server.connectionCount, 0);
      const closes = await settleAll(clientCloses, 30_000, 'client closes');
      for (const r of closes) {
        const err = r.value.error;
        if (err) t.true(RESET_CODES.includes(err.code), `client error ${err.code}`);
      }
      await settleAll(serverCloses, 10_000, 'server-side closes');
      stop = true;
      const loops = await settleAll(pumps, 10_000, 'client send loops');
      t.true(
        loops.every((r) => r.status === 'fulfilled'),
        String(loops.find((r) => r.reason)?.reason),
      );
      if (zcPromises.length > 0) {
        const zc = await settleAll(zcPromises, 20_000, 'sendZeroCopy promises');
        const rejected = zc.filter((r) => r.status === 'rejected').map((r) => r.reason);
        for (const err of rejected) {
          t.true(
            typeof err.code === 'string' &&
              (err.code.startsWith('ERR_ZEROSOCK_') || RESET_CODES.includes(err.code)),
            `zerocopy rejection ${err.code}: ${err.message}`,
          );
        }
        t.log(`${zc.length} zerocopy sends settled (${rejected.length} rejected by the close)`);
      } else {
        t.log('sock.sendZeroCopy not available: no zerocopy sends in flight');
      }
      t.log(
        `${CONNS} connections, ${(serverBytes / 1e6).toFixed(0)} MB received by the server, ` +
          `closed in ${Date.now() - started} ms`,
      );
      await backToBaseline(t, backend, base, 20_000);
    },
  );
}
