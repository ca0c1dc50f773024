// Forwarding: a 'data' view passed to another socket's send() or sendZeroCopy() goes out from the receive buffer
// itself (no copy by zerosock), counted in stats().forwardedBytes, and the buffer comes back to
// the pool. A proxy written the natural way (pause on false, resume on 'drain') between a
// node:net client and a node:net sink, each in this process or a child process.
import test from 'ava';
import net from 'node:net';
import { connect, createServer, stats } from 'zerosock';
import { backends, pattern, sha256, until, within } from './helpers.mjs';
import { startSink } from './peers/sink.mjs';

/**
 * A zerosock proxy: every accepted connection is relayed to the sink at `port`, by `send()`
 * (pause on false, resume on 'drain') or by `sendZeroCopy()` (pause while 16 sends are in
 * flight, resume from their promises).
 */
async function startProxy(backend, port, seen, how = 'send') {
  const server = createServer({ backend }, (a) => {
    a.pause(); // nothing is read (so lost) before the far side is open
    connect({ port, host: '127.0.0.1', backend }).then((b) => {
      // its port (the sink's key) and its 'close', caught before either can be missed
      seen.push({ b, port: b.localPort, closed: new Promise((r) => b.once('close', r)) });
      let inFlight = 0;
      a.on('data', (v) => {
        if (how === 'sendZeroCopy') {
          inFlight++;
          b.sendZeroCopy(v).then(
            () => {
              if (--inFlight === 4) a.resume();
            },
            () => a.destroy(),
          );
          if (inFlight === 16) a.pause();
        } else if (!b.send(v)) {
          a.pause();
          b.once('drain', () => a.resume());
        }
      });
      a.on('end', () => b.end());
      b.on('close', () => a.destroy());
      a.resume();
    });
  });
  await server.listen({ port: 0, host: '127.0.0.1' });
  return server;
}

/** A node:net client sending `data` through the proxy; resolves with its local port. */
function sendThrough(port, data) {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1', () => {
      c.end(data);
    });
    c.on('error', reject);
    c.on('close', () => resolve());
  });
}

const data = pattern(16 << 20, 11);
const want = sha256().update(data).digest('hex');

for (const backend of backends) {
  for (const [where, how] of [
    ['same', 'send'],
    ['child', 'send'],
    ['same', 'sendZeroCopy'],
    ['child', 'sendZeroCopy'],
  ]) {
    test(`${backend}: a proxy forwards 16 MiB by ${how}() without copying them, to a node:net sink in the ${where} process`, async (t) => {
      const sink = await startSink('net', undefined, where);
      const seen = [];
      const proxy = await startProxy(backend, sink.port, seen, how);
      const before = stats()[backend];
      await within(sendThrough(proxy.address().port, data), 60_000, 'client');
      await until(() => seen.length === 1);
      const { b, port, closed } = seen[0];
      const report = await within(sink.done(port), 60_000, 'sink');
      t.is(report.bytes, data.length);
      t.is(report.sha, want);
      const st = b.stats();
      t.true(
        st.forwardedBytes >= data.length / 2,
        `${st.forwardedBytes} of ${data.length} B forwarded (the rest: copy-break-sized reads)`,
      );
      await within(closed, 10_000, "the proxy's 'close'");
      await proxy.close();
      await sink.close();
      await until(() => stats()[backend].poolInUse <= before.poolInUse, 10_000);
      t.pass();
    });
  }

  test(`${backend}: a forwarded view can't be retained, and a second send() of it copies`, async (t) => {
    let got = 0;
    const far = net.createServer((s) => s.on('data', (d) => (got += d.length)));
    await new Promise((r) => far.listen(0, '127.0.0.1', r));
    const outcomes = [];
    const server = createServer({ backend }, async (a) => {
      const b1 = await connect({ port: far.address().port, host: '127.0.0.1', backend });
      const b2 = await connect({ port: far.address().port, host: '127.0.0.1', backend });
      a.once('data', (v) => {
        b1.send(v);
        b2.send(v); // the buffer went to b1: this one is a copy
        try {
          a.retain(v);
          outcomes.push('retained');
        } catch (err) {
          outcomes.push(err.code);
        }
        outcomes.push([b1.stats().forwardedBytes, b2.stats().forwardedBytes, v.byteLength]);
        b1.end();
        b2.end();
        a.destroy();
      });
    });
    await server.listen({ port: 0, host: '127.0.0.1' });
    const c = net.connect(server.address().port, '127.0.0.1');
    c.on('error', () => {});
    c.write(pattern(32 * 1024, 5));
    await until(() => outcomes.length === 2, 10_000);
    const [code, [f1, f2, n]] = outcomes;
    t.is(code, 'ERR_ZEROSOCK_BUFFER_IN_FLIGHT');
    t.true(n >= 4096, `one read of ${n} B`);
    t.is(f1, n);
    t.is(f2, 0);
    await until(() => got === 2 * n, 10_000);
    c.destroy();
    await server.close();
    far.close();
  });
}
