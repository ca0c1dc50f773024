// Zerocopy send (sendZeroCopy) and receive (zerocopyReceive) on every backend, over loopback.
// Loopback usually makes the kernel copy zerocopy sends: these tests check that `copied` is
// reported as the kernel reported it (the engine's kernel counters), not that zerocopy happened.
// Serial: the engine's counters are per process, and the tests compare their deltas.
import test from 'ava';
import { BufferPool, connect, createServer, probe, stats } from 'zerosock';
import { backends, once, random, sha256, until, within } from './helpers.mjs';

const { features } = probe();
const kernelZc = {
  io_uring: features.sendZc && features.sendmsgZc,
  epoll: features.msgZerocopy,
};
for (const backend of backends) {
  if (!kernelZc[backend]) {
    console.log(
      `${backend}: the kernel has no zerocopy send here: sends are reported copied (fallback)`,
    );
  }
}
if (!features.tcpZerocopyReceive) {
  console.log('TCP_ZEROCOPY_RECEIVE is unknown to this kernel: receive tests count copies only');
}

const GB = 1 << 30;

/** A server whose connections hash what they receive; resolves `ended` with the stats. */
async function hashingServer(backend, opts = {}) {
  let resolveEnded;
  const ended = new Promise((r) => (resolveEnded = r));
  const hash = sha256();
  let bytes = 0;
  const server = createServer({ backend, ...opts }, (sock) => {
    sock.on('data', (v) => {
      hash.update(v);
      bytes += v.byteLength;
    });
    sock.on('end', () => resolveEnded({ bytes, digest: hash.digest('hex'), stats: sock.stats() }));
  });
  await server.listen({ port: 0, host: '127.0.0.1' });
  return { server, ended, port: server.address().port };
}

const engineStats = (backend) => stats()[backend];

for (const backend of backends) {
  test.serial(
    `${backend}: 1 GB via sendZeroCopy (random sizes, some below the threshold), SHA-256 equal, every send settled once, pool back to baseline`,
    async (t) => {
      const { server, ended, port } = await hashingServer(backend);
      const client = await connect({ port, host: '127.0.0.1', backend });
      // each step of the ending, seen or not, for a failure to say where it stopped
      const ending = { finish: false, end: false, close: false };
      for (const ev of Object.keys(ending)) client.once(ev, () => (ending[ev] = true));
      const poolBase = engineStats(backend).poolInUse;
      const before = engineStats(backend);
      const source = random(32 << 20);
      const sent = sha256();
      const settled = new Map();
      const idDone = new Map();
      const idSends = new Set();
      client.on('zerocopy', (first, last, copied, err) => {
        t.is(err, undefined);
        for (let id = first; id <= last; id++) idDone.set(id, (idDone.get(id) ?? 0) + 1);
      });
      let total = 0;
      let n = 0;
      let inFlight = [];
      let copiedBig = 0;
      let zcBig = 0;
      let small = 0;
      while (total < GB) {
        // Log-uniform sizes 64 B .. 4 MiB: about a quarter below the 16 KiB threshold.
        const size = Math.min(GB - total, Math.floor(64 * 2 ** (Math.random() * 16)));
        const off = Math.floor(Math.random() * (source.length - size));
        const chunk = source.subarray(off, off + size);
        sent.update(chunk);
        total += size;
        const i = n++;
        if (size < 16 * 1024) small++;
        if (i % 7 === 3) {
          idSends.add(client.sendZeroCopy(chunk, { id: true }));
          continue;
        }
        const p = client.sendZeroCopy(chunk).then((r) => {
          t.false(settled.has(i), `send ${i} settled twice`);
          settled.set(i, r);
          t.is(r.bytes, size);
          if (size < 16 * 1024) t.true(r.copied, 'below the threshold: a copy');
          else if (r.copied) copiedBig += size;
          else zcBig += size;
        });
        inFlight.push(p);
        if (inFlight.length >= 256 || client.writableLength > 64 << 20) {
          await Promise.all(inFlight);
          inFlight = [];
        }
      }
      await Promise.all(inFlight);
      client.end();
      const got = await within(ended, 120_000, '1 GB zerocopy stream');
      t.is(got.bytes, total);
      t.is(got.digest, sent.digest('hex'));
      // 'zerocopy' reports every send (both forms) exactly once, by its id 0..n-1.
      await until(() => idDone.size === n, 10_000);
      for (let id = 0; id < n; id++)
        if (idDone.get(id) !== 1) t.fail(`id ${id}: ${idDone.get(id)}`);
      t.true([...idSends].every((id) => id >= 0 && id < n));
      t.is(settled.size + idSends.size, n, 'every send settled');
      const zs = client.stats().zerocopy;
      t.is(zs.inFlight, 0);
      t.is(zs.sends, n);
      t.is(zs.copiedBytes + zs.zerocopyBytes, total);
      // Consistent with the kernel: what the engine counted from notifications (big sends).
      const after = engineStats(backend);
      const kernelCopied = after.zerocopyCopiedBytes - before.zerocopyCopiedBytes;
      const kernelBytes = after.zerocopyBytes - before.zerocopyBytes;
      t.is(
        kernelBytes - kernelCopied,
        zs.zerocopyBytes,
        'zerocopy bytes = what the kernel did not copy',
      );
      t.log(
        `${backend}: ${n} sends (${small} below the threshold): kernel copied ${kernelCopied} of ${kernelBytes} zerocopy bytes, ${zs.zerocopyBytes} really zerocopy; ${zs.notifications} completion records (${zs.sendsPerNotification.toFixed(1)} sends each), kernel notifications ${after.zcNotifications - before.zcNotifications}`,
      );
      await until(() => ending.close, 10_000).catch(() => {
        const st = engineStats(backend);
        throw new Error(
          `no 'close' 10 s after the server had everything: ${JSON.stringify(ending)}, writableLength ${client.writableLength}, engine openSockets ${st.openSockets} strandedSubmits ${st.strandedSubmits} zerocopyDone ${st.zerocopyDone}`,
        );
      });
      server.closeAllConnections();
      await within(server.close(), 10_000, 'server.close');
      await until(() => engineStats(backend).poolInUse <= poolBase, 5_000).catch(() => {});
      t.true(engineStats(backend).poolInUse <= poolBase, 'pool back to baseline');
    },
  );

  test.serial(
    `${backend}: destroy() with zerocopy sends in flight settles every promise after the kernel let go; lent pool views refuse release`,
    async (t) => {
      let peer;
      const server = createServer({ backend }, (sock) => {
        peer = sock;
        sock.pause(); // never reads: sends pile up in the kernel
      });
      await server.listen({ port: 0, host: '127.0.0.1' });
      const client = await connect({ port: server.address().port, host: '127.0.0.1', backend });
      const pool = new BufferPool({ size: 1 << 20, count: 8 });
      const lent = pool.acquire();
      lent.fill(1);
      const big = random(1 << 20);
      const results = [];
      let closedAt = 0;
      client.on('close', () => (closedAt = performance.now()));
      const track = (p) =>
        results.push(
          p.then(
            (r) => ({ ok: true, r, at: performance.now() }),
            (e) => ({ ok: false, e, at: performance.now() }),
          ),
        );
      track(client.sendZeroCopy(lent));
      for (let i = 0; i < 63; i++) track(client.sendZeroCopy(big));
      const ids = [];
      client.on('zerocopy', (first, last, copied, err) => ids.push({ first, last, err }));
      const id = client.sendZeroCopy(big, { id: true });
      await new Promise((r) => setTimeout(r, 100));
      const err = t.throws(() => pool.release(lent));
      t.is(err.code, 'ERR_ZEROSOCK_BUFFER_IN_FLIGHT');
      client.destroy();
      const all = await within(Promise.all(results), 15_000, 'every promise settles');
      t.is(all.length, 64);
      const rejected = all.filter((x) => !x.ok);
      t.true(rejected.length > 0, 'sends stuck in the kernel were still pending at destroy');
      for (const x of rejected) {
        t.is(x.e.code, 'ERR_ZEROSOCK_SOCKET_CLOSED');
        t.true(closedAt > 0 && x.at >= closedAt, 'rejected only once the engine reported close');
      }
      t.true(
        ids.some((r) => r.first <= id && id <= r.last),
        'the id form hears about its send too',
      );
      pool.release(lent); // the kernel let go: allowed now
      t.is(pool.stats().inUse, 0);
      t.log(
        `${backend}: ${all.length - rejected.length} completed, ${rejected.length} rejected at close`,
      );
      peer?.destroy();
      await within(server.close(), 10_000, 'server.close');
    },
  );

  test.serial(
    `${backend}: 10 000 small zerocopy sends produce far fewer completion callbacks than sends`,
    async (t) => {
      const N = 10_000;
      const { server, ended, port } = await hashingServer(backend);
      const client = await connect({
        port,
        host: '127.0.0.1',
        backend,
        zerocopyThreshold: 0,
      });
      const before = engineStats(backend);
      const msg = random(64);
      const want = sha256();
      let callbacks = 0;
      let reported = 0;
      client.on('zerocopy', (first, last) => {
        callbacks++;
        reported += last - first + 1;
      });
      for (let i = 0; i < N; i++) {
        client.sendZeroCopy(msg, { id: true });
        want.update(msg);
      }
      await until(() => reported === N, 20_000);
      client.end();
      const got = await within(ended, 20_000, 'small sends');
      t.is(got.digest, want.digest('hex'));
      const zs = client.stats().zerocopy;
      const after = engineStats(backend);
      const kernelNotifications = after.zcNotifications - before.zcNotifications;
      t.log(
        `${backend}: ${N} sends -> ${callbacks} 'zerocopy' callbacks, ${zs.notifications} completion records, ${kernelNotifications} kernel notifications, ${after.zcWrites - before.zcWrites} kernel writes`,
      );
      t.is(zs.thresholdCopies, 0);
      t.true(callbacks * 20 < N, `${callbacks} callbacks`);
      t.true(zs.notifications * 20 < N, `${zs.notifications} records`);
      t.true(kernelNotifications * 20 < N, `${kernelNotifications} kernel notifications`);
      await once(client, 'close', 10_000);
      await within(server.close(), 10_000, 'server.close');
    },
  );

  test.serial(
    `${backend}: zerocopy receive of 1 GB, SHA-256 equal, mapped + copied = total`,
    async (t) => {
      const { server, ended, port } = await hashingServer(backend, { zerocopyReceive: true });
      const client = await connect({ port, host: '127.0.0.1', backend });
      // Page-aligned pool memory sent zerocopy: on loopback the receiver then gets whole pages
      // it can map (the kernel copies the sender's pages into fresh ones on delivery).
      const pool = new BufferPool({ size: 1 << 20, count: 16 });
      const views = Array.from({ length: 16 }, () => pool.acquire());
      for (const v of views) v.set(random(v.length));
      const sent = sha256();
      let inFlight = [];
      for (let i = 0; i < GB / (1 << 20); i++) {
        const v = views[i % 16];
        sent.update(v);
        inFlight.push(client.sendZeroCopy(v));
        if (inFlight.length === 16) {
          await Promise.all(inFlight);
          inFlight = [];
        }
      }
      await Promise.all(inFlight);
      client.end();
      const got = await within(ended, 120_000, '1 GB zerocopy receive');
      t.is(got.bytes, GB);
      t.is(got.digest, sent.digest('hex'));
      const z = got.stats.zerocopy;
      t.is(z.recvMappedBytes + z.recvCopiedBytes, GB, 'mapped + copied = total');
      if (backend === 'io_uring') t.is(z.recvMappedBytes, 0, 'io_uring keeps the copy path');
      t.log(
        `${backend}: received ${GB} B: mapped ${z.recvMappedBytes} (${((100 * z.recvMappedBytes) / GB).toFixed(1)}%), copied ${z.recvCopiedBytes}; engine getsockopt calls ${engineStats(backend).zcRecvCalls}, fallbacks ${engineStats(backend).zcRecvFallbacks}`,
      );
      for (const v of views) pool.release(v);
      await once(client, 'close', 10_000);
      server.closeAllConnections();
      await within(server.close(), 10_000, 'server.close');
    },
  );

  test.serial(`${backend}: sendZeroCopy misuse is refused`, async (t) => {
    const { server, port } = await hashingServer(backend);
    const client = await connect({ port, host: '127.0.0.1', backend });
    t.is(t.throws(() => client.sendZeroCopy('text')).code, 'ERR_INVALID_ARG_TYPE');
    t.deepEqual(await client.sendZeroCopy(new Uint8Array(0)), { bytes: 0, copied: true });
    client.end();
    t.is(
      t.throws(() => client.sendZeroCopy(new Uint8Array(10))).code,
      'ERR_ZEROSOCK_SOCKET_CLOSED',
    );
    await once(client, 'close', 10_000);
    server.closeAllConnections();
    await server.close();
  });
}

test.serial('zerocopyThreshold is validated when the socket is made', async (t) => {
  const backend = backends[0];
  const { server, port } = await hashingServer(backend);
  await t.throwsAsync(connect({ port, host: '127.0.0.1', backend, zerocopyThreshold: -1 }), {
    code: 'ERR_OUT_OF_RANGE',
  });
  t.throws(() => createServer({ backend, zerocopyThreshold: 1.5 }), {
    code: 'ERR_INVALID_ARG_TYPE',
  });
  server.closeAllConnections();
  await server.close();
});
