// zerosock against node:net, both ways: the same bytes arrive.
import test from 'ava';
import net from 'node:net';
import { connect, createServer } from 'zerosock';
import { backends, once, pattern, sha256, within } from './helpers.mjs';

const PAYLOAD = 32 << 20;

for (const backend of backends) {
  test(`${backend}: node:net client -> zerosock server`, async (t) => {
    const h = sha256();
    let n = 0;
    const server = createServer({ backend }, (sock) => {
      sock.on('data', (v) => {
        h.update(v);
        n += v.byteLength;
      });
      sock.on('end', () => sock.end('bye'));
    });
    await server.listen({ port: 0, host: '127.0.0.1' });
    const data = pattern(PAYLOAD, 3);
    const c = net.connect(server.address().port, '127.0.0.1');
    let reply = '';
    c.on('data', (d) => (reply += d));
    c.end(data);
    await within(once(c, 'close'), 30_000, 'node:net client');
    t.is(n, PAYLOAD);
    t.is(h.digest('hex'), sha256().update(data).digest('hex'));
    t.is(reply, 'bye');
    await server.close();
  });

  test(`${backend}: zerosock client -> node:net server`, async (t) => {
    const h = sha256();
    let n = 0;
    const server = net.createServer((s) => {
      s.on('data', (d) => {
        h.update(d);
        n += d.length;
      });
      s.on('end', () => s.end('bye'));
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    const c = await connect({ port: server.address().port, host: '127.0.0.1', backend });
    t.is(c.remotePort, server.address().port);
    t.is(c.remoteAddress, '127.0.0.1');
    const data = pattern(PAYLOAD, 4);
    let reply = '';
    c.on('data', (v) => (reply += Buffer.from(v).toString()));
    for (let off = 0; off < data.length; off += 1000) {
      if (!c.send(data.subarray(off, off + 1000))) await once(c, 'drain');
    }
    c.end();
    await within(once(c, 'close'), 30_000, 'zerosock client');
    t.is(n, PAYLOAD);
    t.is(h.digest('hex'), sha256().update(data).digest('hex'));
    t.is(reply, 'bye');
    server.close();
  });
}
