// Auto-cork: order and integrity across small, large and string sends; bounded latency; end()
// and destroy() semantics. Every test runs on every backend.
import test from 'ava';
import { createHash } from 'node:crypto';
import { connect, createServer, stats } from 'zerosock';
import { backends, once, pattern, until, within } from './helpers.mjs';

/** Frames: [u32 len][u32 seq][payload]; the receiver checks sequence and a running SHA-256. */
function frameReader(onMessage) {
  let buf = Buffer.alloc(0);
  return (view) => {
    buf = buf.length === 0 ? Buffer.from(view) : Buffer.concat([buf, view]);
    let off = 0;
    while (buf.length - off >= 8) {
      const len = buf.readUInt32LE(off);
      if (buf.length - off - 8 < len) break;
      onMessage(buf.readUInt32LE(off + 4), buf.subarray(off + 8, off + 8 + len));
      off += 8 + len;
    }
    buf = buf.subarray(off);
  };
}

async function pair(backend, cork) {
  let serverSock;
  const accepted = new Promise((resolve) => {
    const server = createServer({ backend }, (s) => {
      serverSock = s;
      resolve(server);
    });
    server.listen({ port: 0, host: '127.0.0.1' }).then(() => {
      connect({ port: server.address().port, host: '127.0.0.1', backend, cork }).then(
        (c) => (client = c),
      );
    });
  });
  let client;
  const server = await accepted;
  await until(() => client !== undefined);
  return { server, client, serverSock };
}

for (const backend of backends) {
  for (const cork of [undefined, false]) {
    const label = cork === false ? 'cork off' : 'cork on';
    test(`${backend}, ${label}: random 1 B..1 MB sends, strings and flush() keep order and bytes`, async (t) => {
      const { server, client, serverSock } = await pair(backend, cork);
      const sentHash = createHash('sha256');
      const gotHash = createHash('sha256');
      let expectSeq = 0;
      let bad = 0;
      const N = 3000;
      const done = new Promise((resolve) => {
        serverSock.on(
          'data',
          frameReader((seq, payload) => {
            if (seq !== expectSeq) bad++;
            expectSeq = seq + 1;
            gotHash.update(payload);
            if (expectSeq === N) resolve();
          }),
        );
      });
      let rnd = 12345;
      const next = () => (rnd = (rnd * 1103515245 + 12345) >>> 0);
      for (let seq = 0; seq < N; seq++) {
        const r = next() % 1000;
        const len =
          r < 900 ? 1 + (next() % 200) : r < 990 ? 1 + (next() % 40_000) : 1 + (next() % (1 << 20));
        const header = Buffer.alloc(8);
        header.writeUInt32LE(len, 0);
        header.writeUInt32LE(seq, 4);
        let ok;
        if (r % 7 === 0 && len < 5000) {
          // A string message of ASCII so its UTF-8 length is `len`.
          const s = 'abcdefghijklmnopqrstuvwxyz'.repeat(Math.ceil(len / 26)).slice(0, len);
          client.send(header);
          ok = client.send(s);
          sentHash.update(s);
        } else {
          const payload = pattern(len, seq + 1);
          client.send(header);
          ok = client.send(payload);
          sentHash.update(payload);
        }
        if (r % 13 === 0) client.flush();
        if (!ok) await once(client, 'drain', 30_000);
        if (seq % 200 === 0) await new Promise((r2) => setImmediate(r2));
      }
      await within(done, 60_000, 'all messages');
      t.is(bad, 0);
      t.is(expectSeq, N);
      t.is(gotHash.digest('hex'), sentHash.digest('hex'));
      const st = client.stats();
      t.is(st.messagesSent, 2 * N);
      if (cork === false) t.is(st.flushReasons.timer, 0);
      client.destroy();
      server.closeAllConnections();
      await server.close();
    });
  }

  test.serial(`${backend}: large sends of one turn leave in one gathered write`, async (t) => {
    // The first large send of a turn is written at once; the next ones wait for the turn's
    // flush and go out together (one sendmsg of many buffers costs the kernel far less than
    // one write each). Order and bytes are unchanged.
    const { server, client, serverSock } = await pair(backend, undefined);
    const got = createHash('sha256');
    let bytes = 0;
    serverSock.on('data', (v) => {
      got.update(v);
      bytes += v.byteLength;
    });
    const chunks = Array.from({ length: 16 }, (_, i) => pattern(64 * 1024, i + 1));
    const want = createHash('sha256');
    for (const c of chunks) want.update(c);
    const s0 = client.engine.native.stats();
    for (const c of chunks) client.send(c);
    const direct = client.engine.native.stats().writeCalls - s0.writeCalls;
    await until(() => bytes === 16 * 64 * 1024, 10_000);
    const writes = client.engine.native.stats().sendOps - s0.sendOps;
    t.log(`direct writes ${direct}, gathered writes ${writes} for 16 x 64 KiB`);
    t.is(direct, 1, 'only the first large send of the turn is written at once');
    t.true(writes >= 1 && writes <= 8, `gathered writes: ${writes}`);
    t.is(got.digest('hex'), want.digest('hex'));
    client.destroy();
    server.closeAllConnections();
    await server.close();
  });

  test(`${backend}: corking coalesces many small sends into few flushes`, async (t) => {
    const { server, client, serverSock } = await pair(backend, undefined);
    let got = 0;
    serverSock.on('data', (v) => (got += v.byteLength));
    const msg = Buffer.alloc(64, 1);
    for (let i = 0; i < 10_000; i++) client.send(msg);
    await until(() => got === 64 * 10_000, 10_000);
    const st = client.stats();
    t.true(st.flushes <= 20, `flushes ${st.flushes}`);
    t.true(st.bytesPerFlush >= 32 * 1024, `bytes per flush ${st.bytesPerFlush}`);
    client.destroy();
    server.closeAllConnections();
    await server.close();
  });

  test(`${backend}: a small send after idle goes out at the end of the tick, never on the timer`, async (t) => {
    const { server, client, serverSock } = await pair(backend, { maxDelayUs: 200_000 });
    serverSock.on('data', (v) => serverSock.send(v));
    const rtts = [];
    for (let i = 0; i < 50; i++) {
      const start = process.hrtime.bigint();
      const back = once(client, 'data', 5000);
      client.send('ping');
      await back;
      rtts.push(Number(process.hrtime.bigint() - start) / 1000);
      await new Promise((r) => setTimeout(r, 2));
    }
    rtts.sort((a, b) => a - b);
    const p50 = rtts[25];
    t.log(
      `idle-send round trip p50 ${p50.toFixed(0)} µs, max ${rtts[49].toFixed(0)} µs (maxDelayUs 200 000)`,
    );
    t.is(client.stats().flushReasons.timer, 0);
    t.true(p50 < 100_000, `p50 ${p50} µs must not include the 200 ms cork delay`);
    client.destroy();
    server.closeAllConnections();
    await server.close();
  });

  test(`${backend}: cork: false flushes every send`, async (t) => {
    const { server, client, serverSock } = await pair(backend, false);
    let got = 0;
    serverSock.on('data', (v) => (got += v.byteLength));
    for (let i = 0; i < 100; i++) client.send('x');
    await until(() => got === 100, 5000);
    t.is(client.stats().flushes, 100);
    client.destroy();
    server.closeAllConnections();
    await server.close();
  });

  test(`${backend}: end() flushes everything before FIN; destroy() returns the cork buffer`, async (t) => {
    const { server, client, serverSock } = await pair(backend, { maxDelayUs: 1_000_000 });
    let got = 0;
    serverSock.on('data', (v) => (got += v.byteLength));
    const ended = once(serverSock, 'end');
    for (let i = 0; i < 1000; i++) client.send('0123456789');
    client.end('!');
    await within(ended, 5000, 'FIN');
    t.is(got, 10_001);

    const before = stats()[backend].poolInUse;
    const { server: s2, client: c2 } = await pair(backend, { maxDelayUs: 1_000_000 });
    const mid = stats()[backend].poolInUse;
    c2.send('corked but never flushed');
    t.true(stats()[backend].poolInUse > mid, 'the cork buffer is out of the pool');
    const closed = once(c2, 'close');
    c2.destroy();
    await closed;
    await until(() => stats()[backend].poolInUse <= mid, 5000).catch(() => {});
    t.true(stats()[backend].poolInUse <= mid, `pool in use ${stats()[backend].poolInUse} > ${mid}`);
    t.true(before <= mid);
    s2.closeAllConnections();
    await s2.close();
    server.closeAllConnections();
    await server.close();
  });
}
