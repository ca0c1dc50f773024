// Slow reader, fast writer: a zerosock server writes as fast as send()/'drain' allow to a
// node:net reader and to a zerosock reader that each take one 'data' event (≤ 64 KB) every
// 20 ms (pause() in the callback, resume() on a timer), for
// ZEROSOCK_SLOW_READER_MS (CI: 8 000 ms per backend; the 30 s run:
// ZEROSOCK_SLOW_READER_MS=30000). Memory must stay bounded: pool buffers in use, the writers'
// queued bytes and RSS are sampled throughout and checked against ceilings, and RSS must not
// keep growing in the second half. Then the readers catch up and every byte is checked.
// Also: a writer flooding a reader in the same process never starves the event loop.
import test from 'ava';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { connect, createServer, stats } from 'zerosock';
import { backends, once, pattern, sha256, within } from './helpers.mjs';
import { backToBaseline, envInt, snapshot, warmUp } from './faults-helpers.mjs';

const DURATION = envInt('ZEROSOCK_SLOW_READER_MS', 8000);
const CHUNK = 64 * 1024;
const MB = 1 << 20;
// Ceilings. Pool buffers out beyond the baseline: a paused reader's socket may hold up to
// tcp_rmem[2] bytes, and on io_uring each resume() re-arms a multishot recv that moves what is
// there into pool buffers (64 KiB) before the next pause() lands — plus the provided-buffer
// ring (256) and the writers' queues. Writer queue: highWaterMark plus one chunk. RSS growth.
const RMEM_MAX = Number(readFileSync('/proc/sys/net/ipv4/tcp_rmem', 'utf8').trim().split(/\s+/)[2]);
const POOL_CEILING = Math.ceil(RMEM_MAX / (64 * 1024)) + 256 + 64;
const QUEUE_CEILING = 2 * MB;
const RSS_CEILING = 192 * MB;
const RSS_DRIFT_CEILING = 48 * MB;

/** A writer that keeps send() busy until `stop()`; hashes what it sent. */
function fastWriter(sock, stop) {
  const data = pattern(CHUNK * 17, 99); // 17 distinct chunks, reused
  const hash = sha256();
  let sent = 0;
  let i = 0;
  const done = (async () => {
    while (!stop() && !sock.destroyed) {
      const chunk = data.subarray((i % 17) * CHUNK, ((i % 17) + 1) * CHUNK);
      i++;
      hash.update(chunk);
      sent += CHUNK;
      if (!sock.send(chunk)) await once(sock, 'drain', 60_000);
    }
    return { sent, digest: hash.digest('hex') };
  })();
  return done;
}

for (const backend of backends) {
  test.serial(
    `${backend}: slow readers, fast writers for ${DURATION} ms: memory stays bounded`,
    async (t) => {
      await warmUp(backend);
      const base = snapshot(backend);
      global.gc?.();
      const rss0 = process.memoryUsage().rss;
      let stop = false;
      const writers = [];
      const server = createServer({ backend }, (sock) => {
        sock.on('error', (err) => t.fail(`server socket: ${err.message}`));
        writers.push(
          fastWriter(sock, () => stop).then((r) => {
            sock.end();
            return r;
          }),
        );
      });
      await server.listen({ port: 0, host: '127.0.0.1' });
      const port = server.address().port;

      // Reader 1: node:net, paused, reads one chunk per 20 ms tick.
      const netHash = sha256();
      let netBytes = 0;
      const netSock = net.connect(port, '127.0.0.1');
      netSock.pause();
      const netEnded = new Promise((r) => netSock.once('end', r));
      netSock.on('data', (d) => {
        netHash.update(d);
        netBytes += d.length;
        if (!stop) netSock.pause();
      });
      // Reader 2: zerosock, paused, resumed for one tick every 20 ms.
      const zsHash = sha256();
      let zsBytes = 0;
      const zs = await connect({ port, host: '127.0.0.1', backend });
      zs.pause();
      const zsEnded = new Promise((r) => zs.once('end', r));
      zs.on('data', (v) => {
        zsHash.update(v);
        zsBytes += v.byteLength;
        if (!stop) zs.pause();
      });
      const slowRead = setInterval(() => {
        netSock.resume();
        zs.resume();
      }, 20);

      const samples = [];
      const sampler = setInterval(() => {
        const s = stats()[backend];
        samples.push({
          at: Date.now(),
          pool: s.poolInUse - base.poolInUse,
          rss: process.memoryUsage().rss - rss0,
          queued: Math.max(0, ...server_connections(server).map((c) => c.writableLength)),
        });
      }, 100);
      const started = Date.now();
      await new Promise((r) => setTimeout(r, DURATION));
      clearInterval(sampler);
      const elapsed = Date.now() - started;
      const slowBytes = netBytes + zsBytes;

      // Catch up: stop writing, read everything at full speed.
      stop = true;
      clearInterval(slowRead);
      netSock.resume();
      zs.resume();
      const results = await within(Promise.all(writers), 60_000, 'writers finish');
      await within(Promise.all([netEnded, zsEnded]), 60_000, 'readers drain');
      netSock.end();
      zs.end();
      await within(server.close(), 20_000, 'server.close');
      await new Promise((r) => (netSock.destroyed ? r() : netSock.once('close', r)));

      const max = (k) => Math.max(...samples.map((s) => s[k]));
      const half = samples.filter((s) => s.at - started >= elapsed / 2);
      const rssSecondHalf =
        Math.max(...half.map((s) => s.rss)) - Math.min(...half.map((s) => s.rss));
      t.log(
        `${backend}: ${elapsed} ms, slow phase read ${(slowBytes / MB).toFixed(1)} MB ` +
          `(${(((slowBytes / MB) * 1000) / elapsed).toFixed(1)} MB/s); ` +
          `max pool +${max('pool')} buffers, max queued ${(max('queued') / MB).toFixed(2)} MB, ` +
          `max RSS +${(max('rss') / MB).toFixed(0)} MB, 2nd-half RSS drift ${(rssSecondHalf / MB).toFixed(0)} MB; ` +
          `total ${((results[0].sent + results[1].sent) / MB).toFixed(0)} MB; ` +
          `pool ceiling +${POOL_CEILING} (tcp_rmem max ${(RMEM_MAX / MB).toFixed(0)} MB)`,
      );
      t.true(
        samples.length >= DURATION / 200,
        `only ${samples.length} samples: event loop starved`,
      );
      t.true(max('pool') <= POOL_CEILING, `pool in use +${max('pool')} > ${POOL_CEILING}`);
      t.true(max('queued') <= QUEUE_CEILING, `writer queue ${max('queued')} > ${QUEUE_CEILING}`);
      t.true(max('rss') <= RSS_CEILING, `RSS +${max('rss')} > ${RSS_CEILING}`);
      t.true(rssSecondHalf <= RSS_DRIFT_CEILING, `RSS drift ${rssSecondHalf} in the 2nd half`);
      // Every byte arrived, in order, on both readers (which writer served which reader is
      // decided by accept order, so compare as a set).
      const got = [
        { n: netBytes, h: netHash.digest('hex') },
        { n: zsBytes, h: zsHash.digest('hex') },
      ].sort((a, b) => a.n - b.n);
      const want = results.map((r) => ({ n: r.sent, h: r.digest })).sort((a, b) => a.n - b.n);
      t.deepEqual(got, want);
      await backToBaseline(t, backend, base);
    },
  );

  test.serial(`${backend}: pause() in a 'data' callback stops 'data' until resume()`, async (t) => {
    await warmUp(backend);
    const base = snapshot(backend);
    const body = pattern(4 * MB, 8);
    const server = createServer({ backend }, (s) => {
      s.send(body);
      s.end();
    });
    await server.listen({ port: 0, host: '127.0.0.1' });
    const c = await connect({ port: server.address().port, host: '127.0.0.1', backend });
    c.pause();
    await new Promise((r) => setTimeout(r, 200)); // received data waits in the socket
    const h = sha256();
    let events = 0;
    let n = 0;
    c.on('data', (v) => {
      events++;
      n += v.byteLength;
      h.update(v);
      c.pause();
    });
    const ended = once(c, 'end', 30_000);
    let ticks = 0;
    while (n < body.length && ticks++ < 20_000) {
      const before = events;
      c.resume();
      await new Promise((r) => setTimeout(r, 1));
      t.true(events - before <= 1, `${events - before} 'data' events after one resume()`);
      if (events - before > 1) break;
    }
    await ended;
    t.is(n, body.length);
    t.is(h.digest('hex'), sha256().update(body).digest('hex'));
    await within(server.close(), 10_000, 'server.close');
    await backToBaseline(t, backend, base);
  });

  test.serial(`${backend}: a same-process flood never starves the event loop`, async (t) => {
    await warmUp(backend);
    const base = snapshot(backend);
    const chunk = pattern(CHUNK, 4);
    const socks = [];
    const flood = (sock) => {
      socks.push(sock);
      sock.on('data', () => {});
      sock.on('error', () => {});
      const write = () => {
        while (!sock.destroyed && !sock.writableEnded && sock.send(chunk));
      };
      sock.on('drain', write);
      write();
    };
    const server = createServer({ backend }, flood);
    await server.listen({ port: 0, host: '127.0.0.1' });
    for (let i = 0; i < 4; i++) {
      flood(await connect({ port: server.address().port, host: '127.0.0.1', backend }));
    }
    // Timers must keep firing while four connections flood both ways.
    const gaps = [];
    let last = Date.now();
    await new Promise((resolve) => {
      const iv = setInterval(() => {
        const now = Date.now();
        gaps.push(now - last);
        last = now;
        if (gaps.length === 50) {
          clearInterval(iv);
          resolve();
        }
      }, 10);
    });
    const worst = Math.max(...gaps);
    t.log(`${backend}: 50 timer ticks of 10 ms under a 4-connection flood, worst gap ${worst} ms`);
    t.true(worst < 1000, `a timer waited ${worst} ms`);
    for (const s of socks) s.destroy();
    await within(server.close(), 10_000, 'server.close');
    await backToBaseline(t, backend, base);
  });
}

/** The server's open sockets (for their queued bytes). */
function server_connections(server) {
  return [...(server.connections ?? [])];
}
