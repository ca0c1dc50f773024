// Clients that vanish mid-response must not leak anything on the zerosock + node:http server:
// fds, engine sockets, pool buffers and duplexes all return to their baseline. Serial: fd
// counts need nothing else open in this process.
import test from 'ava';
import http from 'node:http';
import net from 'node:net';
import { createHttpServer, stats } from 'zerosock';
import { backends, fdCount, pattern, until, within } from './helpers.mjs';

const host = '127.0.0.1';
const CHUNK = pattern(64 * 1024, 5);

for (const backend of backends) {
  test.serial(`${backend}: 200 clients disconnect mid-response, nothing leaks`, async (t) => {
    let started = 0;
    let closedEarly = 0;
    let finished = 0;
    const server = createHttpServer(
      (req, res) => {
        started++;
        // An endless streamed response, honouring backpressure, until the client goes away.
        let stop = false;
        res.on('close', () => {
          stop = true;
          if (!res.writableFinished) closedEarly++;
          else finished++;
        });
        const pump = () => {
          while (!stop) {
            if (!res.write(CHUNK)) return void res.once('drain', pump);
          }
        };
        pump();
      },
      { backend },
    );
    await server.listen({ port: 0, host });
    const port = server.address().port;
    const base = () => stats()[backend];
    // Warm up (engine, parsers, agent-free client paths) before taking the baseline.
    await cut(port, 1);
    await until(() => server.connections === 0, 5_000);
    const fdBefore = fdCount();
    const poolBefore = base().poolInUse;
    const socketsBefore = base().openSockets;
    t.is(socketsBefore, 1, 'only the listener');

    const N = 200;
    let got = 0;
    for (let round = 0; round < N / 20; round++) {
      // Half of them through node:http (destroy after some body), half raw (RST-free FIN).
      const results = await within(
        Promise.all([...Array.from({ length: 10 }, () => httpCut(port, 200_000)), cut(port, 10)]),
        20_000,
        'clients',
      );
      got += results.length - 1 + results[results.length - 1];
    }
    t.is(got, N);
    await within(
      until(() => server.connections === 0 && base().openSockets === 1, 20_000),
      25_000,
      'server side closed',
    );
    t.is(started, N + 1);
    t.is(closedEarly, N + 1, "every response saw 'close' before finishing");
    t.is(finished, 0);
    t.is(base().openSockets, 1, 'engine: only the listener is open');
    await until(() => fdCount() === fdBefore, 5_000).catch(() => {});
    t.is(fdCount(), fdBefore, 'no fd leaked');
    await until(() => base().poolInUse === poolBefore, 5_000).catch(() => {});
    t.is(base().poolInUse, poolBefore, 'pool buffers back to baseline');
    await within(server.close(), 10_000, 'close');
  });
}

/** A node:http GET that destroys its socket after `bytes` of body. */
function httpCut(port, bytes) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path: '/stream', agent: false }, (res) => {
      let n = 0;
      res.on('data', (d) => {
        n += d.length;
        if (n >= bytes) req.destroy();
      });
    });
    req.on('close', () => resolve(1));
    req.on('error', (err) => {
      if (err.code !== 'ECONNRESET') reject(err);
    });
  });
}

/** `count` raw clients that read the response headers and a bit, then end + destroy. */
function cut(port, count) {
  return Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise((resolve, reject) => {
          const c = net.connect(port, host);
          c.write('GET /stream HTTP/1.1\r\nHost: x\r\n\r\n');
          let n = 0;
          c.on('data', (d) => {
            n += d.length;
            if (n > 100_000) c.destroy();
          });
          c.on('close', () => resolve());
          c.on('error', reject);
        }),
    ),
  ).then(() => count);
}
