// How a TLS session ends, with node:tls as the oracle: the same five endings by a node:tls
// client (close_notify then FIN, a plain FIN without close_notify, half a record then FIN, half
// a record then RST, RST) against a node:tls server and against the zerosock TLS server give
// the server's socket the same events ('data', 'end' or 'error' with its code, 'close'); after
// each the zerosock server still serves, and descriptors and pool buffers come back.
import test from 'ava';
import net from 'node:net';
import tls from 'node:tls';
import { createServer, stats } from 'zerosock';
import { backends, fdCount, until, within } from './helpers.mjs';
import { certs, haveOpenssl } from './tls-certs.mjs';

const openssl = haveOpenssl();
if (!openssl) console.log('TLS ending tests skipped: no `openssl` command to make certificates');
const tlsTest = openssl ? test.serial : test.skip;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Half of an application-data record: its 5-byte header promises 16 KiB, 5 bytes follow. */
const HALF_RECORD = Buffer.from([0x17, 0x03, 0x03, 0x40, 0x00, 1, 2, 3, 4, 5]);

const ENDINGS = {
  'close_notify, then FIN': (t) => t.end(),
  'FIN without close_notify': (t, raw) => raw.end(),
  'half a record, then FIN': (t, raw) => raw.end(HALF_RECORD),
  'half a record, then RST': async (t, raw) => {
    raw.write(HALF_RECORD);
    await sleep(20);
    raw.resetAndDestroy();
  },
  RST: (t, raw) => raw.resetAndDestroy(),
};

/** The server socket's events, as strings, one array per connection. */
function recorder() {
  const conns = [];
  const onConnection = (s) => {
    const ev = [];
    conns.push(ev);
    s.on('data', (d) => ev.push(`data ${d.byteLength}`));
    s.on('end', () => ev.push('end'));
    s.on('error', (e) => ev.push(`error ${e.code}`));
    s.on('close', () => ev.push('close'));
  };
  return { conns, onConnection };
}

/** A node:tls client over its own net socket: 'hello', then the ending. */
async function clientEnding(port, ending) {
  const raw = net.connect(port, '127.0.0.1');
  raw.on('error', () => {});
  const t = tls.connect({ socket: raw, ca: certs().ca, servername: 'localhost' });
  t.on('error', () => {});
  await within(new Promise((r) => t.once('secureConnect', r)), 10_000, 'handshake');
  t.write('hello');
  await sleep(30);
  await ENDINGS[ending](t, raw);
  await within(new Promise((r) => (raw.destroyed ? r() : raw.once('close', r))), 10_000, 'close');
  t.destroy();
}

/** The events a node:tls server's socket sees for `ending`. */
async function oracle(ending) {
  const rec = recorder();
  const server = tls.createServer(certs().server, rec.onConnection);
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  await clientEnding(server.address().port, ending);
  await until(() => rec.conns[0]?.includes('close'), 10_000);
  server.close();
  return rec.conns[0];
}

for (const backend of backends) {
  tlsTest(
    `${backend}: five endings of a TLS session give the server's socket node:tls's events, and it keeps serving`,
    async (t) => {
      const rec = recorder();
      const server = createServer({ backend, tls: certs().server }, rec.onConnection);
      const clientErrors = [];
      server.on('tlsClientError', (e) => clientErrors.push(e));
      await server.listen({ port: 0, host: '127.0.0.1' });
      const { port } = server.address();
      // Warm-up: the pool's first buffers and the engine are not a leak.
      await clientEnding(port, 'close_notify, then FIN');
      await until(() => server.connectionCount === 0, 10_000);
      const fds = fdCount();
      const pool = stats()[backend].poolInUse;
      for (const ending of Object.keys(ENDINGS)) {
        const expected = await oracle(ending);
        const at = rec.conns.length;
        await clientEnding(port, ending);
        await until(() => rec.conns[at]?.includes('close'), 10_000);
        t.deepEqual(rec.conns[at], expected, `${ending}: node:tls's server saw ${expected}`);
      }
      t.is(clientErrors.length, 0, 'every handshake completed');
      await until(() => server.connectionCount === 0, 10_000);
      await until(() => fdCount() <= fds, 5_000);
      t.true(fdCount() <= fds, 'descriptors back');
      t.true(stats()[backend].poolInUse <= pool, 'pool buffers back');
      await within(server.close(), 10_000, 'server.close');
    },
  );
}
