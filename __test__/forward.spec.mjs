// Forwarding: a 'data' view passed to another socket's send() or sendZeroCopy() goes out from the receive buffer
// itself (no copy by zerosock), counted in stats().forwardedBytes, and the buffer comes back to
// the pool. A proxy written the natural way (pause on false, resume on 'drain') between a
// node:net client and a node:net sink, each in this process or a child process.
import test from 'ava';
import net from 'node:net';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { connect, createServer, stats } from 'zerosock';
import { backends, fdCount, pattern, repeatedSha, sha256, until, within } from './helpers.mjs';
import { startSink } from './peers/sink.mjs';

const WRITER = fileURLToPath(new URL('./peers/stream-writer.mjs', import.meta.url));

/** A node:net client in another process sending `bytes` (pattern(block, seed) repeated, random
 * write sizes) to `port`; resolves with its `{ sent, error }`. */
function writerProcess(port, bytes, block, seed) {
  return new Promise((resolve, reject) =>
    execFile(
      process.execPath,
      [WRITER, String(port), String(bytes), String(block), String(seed)],
      { timeout: 150_000 },
      (err, stdout, stderr) =>
        err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout)),
    ),
  );
}

/** Samples `f()` every 5 ms until `promise` settles; resolves with [its value, the largest sample]. */
async function sampling(promise, f) {
  let max = f();
  const timer = setInterval(() => (max = Math.max(max, f())), 5);
  try {
    return [await promise, max];
  } finally {
    clearInterval(timer);
  }
}

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
      const entry = { b, port: b.localPort, errors: [], closed: null };
      entry.closed = new Promise((r) => b.once('close', r));
      b.on('error', (err) => entry.errors.push(err.code));
      seen.push(entry);
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

const BLOCK = 4 << 20;
const FORWARD_MIN = 4096; // ts/net/socket/sender.ts
const HIGH_WATER = 1 << 20; // the default highWaterMark
// receive buffers the engine keeps posted: io_uring's provided-buffer ring (EngineConfig's
// recv_buffers); epoll reads into one buffer at a time
const POSTED = { io_uring: 256, epoll: 0 };

for (const backend of backends) {
  const inUse = () => stats()[backend]?.poolInUse ?? 0;

  test.serial(
    `${backend}: 1 GiB in random write sizes, client and sink (node:net) in other processes: SHA-256 equal, forwarded, pool and fds back`,
    async (t) => {
      t.timeout(180_000);
      const bytes = 1 << 30;
      const sink = await startSink('net', undefined, 'child');
      const seen = [];
      const proxy = await startProxy(backend, sink.port, seen);
      const fds = fdCount();
      const pool = inUse();
      const wrote = await within(
        writerProcess(proxy.address().port, bytes, BLOCK, 3),
        160_000,
        'writer',
      );
      t.deepEqual(wrote, { sent: bytes, error: null });
      await until(() => seen.length === 1);
      const { b, port, closed, errors } = seen[0];
      const report = await within(sink.done(port), 60_000, 'sink');
      t.is(report.bytes, bytes);
      t.is(report.sha, repeatedSha(bytes, BLOCK, 3));
      const { forwardedBytes } = b.stats();
      t.true(forwardedBytes >= 0.9 * bytes, `${forwardedBytes} of ${bytes} B forwarded`);
      t.log(`${backend}: ${((100 * forwardedBytes) / bytes).toFixed(1)}% forwarded`);
      await within(closed, 10_000, "the proxy's 'close'");
      t.deepEqual(errors, []);
      await proxy.close();
      await sink.close();
      await until(() => inUse() <= pool && fdCount() <= fds, 10_000).catch(() => {});
      t.true(inUse() <= pool, `pool in use ${inUse()}, before ${pool}`);
      t.true(fdCount() <= fds, `fds ${fdCount()}, before ${fds}`);
    },
  );

  test.serial(
    `${backend}: a slow sink in another process: nothing lost, and the pool buffers the relay holds stay within highWaterMark / ${FORWARD_MIN} B`,
    async (t) => {
      t.timeout(120_000);
      const bytes = 48 << 20;
      // stops reading for 20 ms after each MiB: the proxy's send queue fills, it pauses the source
      const sink = await startSink('net', undefined, 'child', { slowMs: 20, everyBytes: 1 << 20 });
      const seen = [];
      const proxy = await startProxy(backend, sink.port, seen);
      const pool = inUse();
      const [wrote, peak] = await sampling(
        within(writerProcess(proxy.address().port, bytes, BLOCK, 4), 100_000, 'writer'),
        inUse,
      );
      t.deepEqual(wrote, { sent: bytes, error: null });
      const { port, closed } = seen[0];
      const report = await within(sink.done(port), 60_000, 'sink');
      t.is(report.bytes, bytes);
      t.is(report.sha, repeatedSha(bytes, BLOCK, 4));
      // what b's send queue may hold (each forwarded view at least FORWARD_MIN bytes in its own
      // buffer), one receive in hand, the receive buffers the engine keeps posted
      const bound = HIGH_WATER / FORWARD_MIN + 2 + POSTED[backend];
      t.true(peak - pool <= bound, `pool grew by ${peak - pool} buffers (bound ${bound})`);
      t.log(`${backend}: pool grew by at most ${peak - pool} buffers while the sink was slow`);
      await within(closed, 10_000, "the proxy's 'close'");
      await proxy.close();
      await sink.close();
      await until(() => inUse() <= pool, 10_000).catch(() => {});
      t.true(inUse() <= pool, `pool in use ${inUse()}, before ${pool}`);
    },
  );

  test.serial(
    `${backend}: the sink resets mid-stream: the proxy's far socket errors and closes, the client is cut off, the proxy keeps serving, pool and fds back`,
    async (t) => {
      t.timeout(120_000);
      const sink = await startSink('net', undefined, 'child', { resetAfter: 4 << 20 });
      const seen = [];
      const proxy = await startProxy(backend, sink.port, seen);
      const fds = fdCount();
      const pool = inUse();
      const wrote = await within(
        writerProcess(proxy.address().port, 256 << 20, BLOCK, 5),
        60_000,
        'writer',
      );
      t.true(wrote.sent < 256 << 20 || wrote.error !== null, 'the client did not get through');
      const { port, closed, errors } = seen[0];
      const report = await within(sink.done(port), 10_000, 'sink');
      t.true(report.reset);
      await within(closed, 10_000, "the proxy's far socket 'close'");
      t.true(
        errors.length === 1 && ['ECONNRESET', 'EPIPE'].includes(errors[0]),
        `far socket errors: ${errors}`,
      );
      // the same proxy still relays (to a sink that behaves)
      const good = await startSink('net', undefined, 'child');
      const seen2 = [];
      const proxy2 = await startProxy(backend, good.port, seen2);
      const again = await within(
        writerProcess(proxy2.address().port, 8 << 20, BLOCK, 6),
        30_000,
        'writer',
      );
      t.deepEqual(again, { sent: 8 << 20, error: null });
      t.is(
        (await within(good.done(seen2[0].port), 10_000, 'sink')).sha,
        repeatedSha(8 << 20, BLOCK, 6),
      );
      await within(seen2[0].closed, 10_000, "'close'");
      await proxy.close();
      await proxy2.close();
      await sink.close();
      await good.close();
      await until(() => inUse() <= pool && fdCount() <= fds, 10_000).catch(() => {});
      t.true(inUse() <= pool, `pool in use ${inUse()}, before ${pool}`);
      t.true(fdCount() <= fds, `fds ${fdCount()}, before ${fds}`);
    },
  );
}
