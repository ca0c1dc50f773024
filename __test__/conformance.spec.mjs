// Conformance with node:net's socket semantics (the behaviours Node's own test/parallel/test-net-*
// check): write after end, 'drain', end(data), 'end'/'close' order and hadError, allowHalfOpen,
// destroy with writes pending, pause/resume from 'data', byte counters, server close, refused
// and reset errors — on the raw Socket and through toDuplex() with stream helpers. Real sockets
// on 127.0.0.1, peers node:net and zerosock.
import test from 'ava';
import net from 'node:net';
import { Readable, Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { connect, createServer } from 'zerosock';
import { backends, once, pattern, sha256, until, within } from './helpers.mjs';

const HOST = '127.0.0.1';
const PEERS = ['net', 'zerosock'];
const delay = (ms) => new Promise((r) => setTimeout(r, ms));
const digest = (buf) => sha256().update(buf).digest('hex');
/** Writes on either kind of socket. */
const write = (s, d) => (typeof s.send === 'function' ? s.send(d) : s.write(d));

/** Everything `s` receives until its 'end' (bytes copied out of borrowed views). */
function collect(s) {
  const chunks = [];
  s.on('data', (d) => chunks.push(Buffer.from(d)));
  return new Promise((resolve) => s.once('end', () => resolve(Buffer.concat(chunks))));
}

/** A listening peer server of `kind` ('net' | 'zerosock'); `onConn(sock)` per connection. */
async function peerServer(kind, backend, opts, onConn) {
  const allowHalfOpen = opts.allowHalfOpen === true;
  // What onConn returned for the i-th accepted connection, as a promise: a test waits on the
  // accept itself, never on a variable the accept may not have set yet.
  const results = [];
  const settle = [];
  const slot = (i) => {
    while (results.length <= i) results.push(new Promise((r) => settle.push(r)));
    return results[i];
  };
  let count = 0;
  const accept = (s) => {
    const i = count++;
    slot(i);
    settle[i](onConn(s));
  };
  if (kind === 'net') {
    const conns = new Set();
    const server = net.createServer({ allowHalfOpen }, (s) => {
      conns.add(s);
      s.on('close', () => conns.delete(s));
      if (!opts.noErrorHandler) s.on('error', () => {});
      accept(s);
    });
    await new Promise((r) => server.listen(0, HOST, r));
    return {
      port: server.address().port,
      accepted: slot,
      close: async () => {
        for (const s of conns) s.destroy();
        await within(new Promise((r) => server.close(r)), 10_000, 'net peer close');
      },
    };
  }
  const server = createServer({ backend, allowHalfOpen }, (s) => {
    if (!opts.noErrorHandler) s.on('error', () => {});
    accept(s);
  });
  await server.listen({ port: 0, host: HOST });
  return {
    port: server.address().port,
    accepted: slot,
    close: async () => {
      server.closeAllConnections();
      await within(server.close(), 10_000, 'zerosock peer close');
    },
  };
}

/** 'close' without once()'s reject-on-'error'. */
const onClose = (s) => new Promise((resolve) => s.once('close', (...a) => resolve(a)));

const dial = (port, backend, opts = {}) => connect({ port, host: HOST, backend, ...opts });

for (const backend of backends) {
  for (const peer of PEERS) {
    const tag = `${backend} vs ${peer}`;

    // ------------------------------------------------------------------ 1. write after end
    test(`${tag}: send() after end() throws ERR_ZEROSOCK_SOCKET_CLOSED (outside and in callbacks)`, async (t) => {
      const srv = await peerServer(peer, backend, {}, (s) => {
        const got = collect(s);
        write(s, 'go');
        return got;
      });
      const c = await dial(srv.port, backend);
      const inData = new Promise((resolve) => {
        c.once('data', () => {
          c.end('bye');
          try {
            c.send('late');
            resolve(null);
          } catch (err) {
            resolve(err);
          }
        });
      });
      const errInData = await within(inData, 10_000, "'data'");
      t.truthy(errInData, 'send() after end() inside a data callback did not throw');
      t.is(errInData?.code, 'ERR_ZEROSOCK_SOCKET_CLOSED');
      // Outside any callback, again.
      t.throws(() => c.send(Buffer.from('x')), { code: 'ERR_ZEROSOCK_SOCKET_CLOSED' });
      t.throws(() => c.send(''), { code: 'ERR_ZEROSOCK_SOCKET_CLOSED' });
      let inClose = null;
      c.once('close', () => {
        try {
          c.send('after close');
        } catch (err) {
          inClose = err;
        }
      });
      await within(once(c, 'close'), 10_000, 'close');
      t.is(inClose?.code, 'ERR_ZEROSOCK_SOCKET_CLOSED');
      t.is((await within(srv.accepted(0), 10_000, 'peer end')).toString(), 'bye');
      // And after destroy().
      const d = await dial(srv.port, backend);
      d.destroy();
      t.throws(() => d.send('x'), { code: 'ERR_ZEROSOCK_SOCKET_CLOSED' });
      await within(once(d, 'close'), 10_000, 'close after destroy');
      await srv.close();
    });

    // ------------------------------------------------------------------ 2. drain
    test(`${tag}: 'drain' only after send() returned false`, async (t) => {
      const srv = await peerServer(peer, backend, {}, (s) => collect(s));
      // (a) send() always true: never a 'drain'.
      const a = await dial(srv.port, backend);
      let drainsA = 0;
      a.on('drain', () => drainsA++);
      let falsesA = 0;
      for (let i = 0; i < 50; i++) {
        if (!a.send(`msg ${i};`)) falsesA++;
        if (i % 10 === 0) await delay(1);
      }
      await until(() => a.writableLength === 0, 10_000);
      await delay(50);
      t.is(falsesA, 0);
      t.is(drainsA, 0, "'drain' without send() returning false");
      a.end();
      await within(once(a, 'close'), 10_000, 'a close');

      // (b) a small highWaterMark: each false is followed by exactly one 'drain'; more sends
      // are made from inside the 'drain' callback.
      const b = await dial(srv.port, backend, { highWaterMark: 64 * 1024 });
      // Listening from the start: b.end() runs inside 'drain', and 'close' may come in the same
      // event walk, before the code after `await done` runs.
      const bClosed = once(b, 'close');
      const data = pattern(4 << 20, 7);
      const CH = 16 * 1024;
      let off = 0;
      let falses = 0;
      let drains = 0;
      let drainWithoutFalse = 0;
      let owed = false;
      const done = new Promise((resolve) => {
        const pump = () => {
          while (off < data.length) {
            const ok = b.send(data.subarray(off, off + CH));
            off += CH;
            if (!ok) {
              falses++;
              owed = true;
              return;
            }
          }
          b.end();
          resolve();
        };
        b.on('drain', () => {
          drains++;
          if (!owed) drainWithoutFalse++;
          owed = false;
          pump();
        });
        pump();
      });
      await within(done, 20_000, 'pump with drain');
      await within(bClosed, 20_000, 'b close').catch((err) => {
        // Seen once under full-suite load (not reproduced since): say where things stand.
        const state = { ...b.stats(), readableEnded: b.readableEnded, destroyed: b.destroyed };
        throw new Error(
          `${err.message}; ${b.describeWrites() ?? 'nothing unsent'}; ${JSON.stringify(state)}`,
        );
      });
      t.true(falses > 0, 'send() never returned false past highWaterMark');
      t.is(drains, falses);
      t.is(drainWithoutFalse, 0);
      const got = await within(srv.accepted(1), 10_000, 'peer got b');
      t.is(got.length, data.length);
      t.is(digest(got), digest(data));
      await srv.close();
    });

    // ------------------------------------------------------------------ 3. end(data)
    test(`${tag}: end(data) — data arrives before FIN, in order, exact bytes`, async (t) => {
      const srv = await peerServer(peer, backend, {}, (s) => {
        const got = collect(s);
        write(s, 'go');
        return got;
      });
      // Outside a callback: small sends, a large one, then end(large).
      const c = await dial(srv.port, backend);
      const parts = [Buffer.from('one,'), pattern(300_000, 2), Buffer.from('two,')];
      for (const p of parts) c.send(p);
      const last = pattern(1 << 20, 5);
      c.end(last);
      const expected = Buffer.concat([...parts, last]);
      c.on('data', () => {});
      await within(once(c, 'close'), 10_000, 'close');
      const got = await within(srv.accepted(0), 10_000, 'peer end');
      t.is(got.length, expected.length);
      t.is(digest(got), digest(expected));

      // From inside 'data': end() with a string (multi-byte) right away.
      const d = await dial(srv.port, backend);
      d.once('data', () => {
        d.send('α');
        d.end('βγ-end');
      });
      await within(once(d, 'close'), 10_000, 'close');
      t.is((await within(srv.accepted(1), 10_000, 'peer end 2')).toString(), 'αβγ-end');
      await srv.close();
    });

    // ------------------------------------------------------------------ 4. end then close
    test(`${tag}: 'end' before 'close', hadError false on a clean close`, async (t) => {
      const srv = await peerServer(peer, backend, {}, (s) => s.end('hello'));
      const c = await dial(srv.port, backend);
      const events = [];
      let data = '';
      c.on('data', (v) => {
        data += Buffer.from(v).toString();
        events.push('data');
      });
      c.on('end', () => events.push('end'));
      c.on('error', (e) => events.push(`error ${e.code}`));
      const [hadError] = await within(once(c, 'close'), 10_000, 'close');
      events.push('close');
      t.is(data, 'hello');
      t.deepEqual(
        events.filter((e) => e !== 'data'),
        ['end', 'close'],
      );
      t.is(events[0], 'data');
      t.false(hadError);
      await srv.close();
    });
  }

  // Reset needs node:net's resetAndDestroy() on the peer.
  test(`${backend}: 'close' hadError true after the peer resets`, async (t) => {
    const srv = await peerServer('net', backend, {}, (s) => {
      s.once('data', () => s.resetAndDestroy());
    });
    const c = await dial(srv.port, backend);
    const events = [];
    c.on('end', () => events.push('end'));
    c.on('error', () => events.push('error'));
    c.on('data', () => {});
    const closed = onClose(c);
    c.send('trigger');
    const [hadError] = await within(closed, 10_000, 'close');
    events.push('close');
    t.true(hadError);
    t.deepEqual(events, ['error', 'close']);
    await srv.close();
  });

  // ------------------------------------------------------------------ 5. allowHalfOpen
  for (const peer of PEERS) {
    const tag = `${backend} vs ${peer}`;
    test(`${tag}: allowHalfOpen true — still sends after the peer's FIN`, async (t) => {
      const srv = await peerServer(peer, backend, { allowHalfOpen: true }, (s) => {
        const got = collect(s);
        s.end('fin-first');
        return got;
      });
      const c = await dial(srv.port, backend, { allowHalfOpen: true });
      let reply = '';
      c.on('data', (v) => (reply += Buffer.from(v).toString()));
      const ended = new Promise((resolve) =>
        c.on('end', () => {
          // Inside 'end': the writable side is still open.
          t.true(c.send('after-fin;'));
          resolve();
        }),
      );
      await within(ended, 10_000, 'end');
      await delay(20);
      // Outside, a tick later.
      c.send(pattern(200_000, 9));
      c.end('bye');
      await within(once(c, 'close'), 10_000, 'close');
      const data = await within(srv.accepted(0), 10_000, 'peer end');
      t.is(reply, 'fin-first');
      const expected = Buffer.concat([
        Buffer.from('after-fin;'),
        pattern(200_000, 9),
        Buffer.from('bye'),
      ]);
      t.is(data.length, expected.length);
      t.is(digest(data), digest(expected));
      await srv.close();
    });

    test(`${tag}: allowHalfOpen default false — the socket ends itself after the peer's FIN`, async (t) => {
      let peerClosed;
      const srv = await peerServer(peer, backend, { allowHalfOpen: true }, (s) => {
        const got = collect(s);
        peerClosed = once(s, 'close');
        s.end('fin-first');
        return got;
      });
      const c = await dial(srv.port, backend);
      c.on('data', () => {});
      let errAfterEnd = null;
      c.on('end', () => {
        // The auto end() follows the 'end' listeners; a tick later send() must throw.
        setImmediate(() => {
          try {
            c.send('nope');
          } catch (err) {
            errAfterEnd = err;
          }
        });
      });
      const [hadError] = await within(once(c, 'close'), 10_000, 'close');
      t.false(hadError);
      t.is((await within(srv.accepted(0), 10_000, 'peer sees FIN')).length, 0);
      await within(peerClosed, 10_000, 'peer close');
      await until(() => errAfterEnd !== null, 2_000).catch(() => {});
      t.is(errAfterEnd?.code, 'ERR_ZEROSOCK_SOCKET_CLOSED');
      await srv.close();
    });

    // ------------------------------------------------------------------ 6. destroy pending
    test(`${tag}: destroy() with writes pending — no throw, 'close' fires, peer sees the end`, async (t) => {
      const peerSocks = [];
      const srv = await peerServer(peer, backend, {}, (s) => {
        s.pause(); // don't read: the writes pile up
        peerSocks.push(s);
      });
      const cases = ['outside', 'in drain', 'in data'];
      for (const where of cases) {
        const c = await dial(srv.port, backend, { highWaterMark: 256 * 1024 });
        await until(() => peerSocks.length > cases.indexOf(where), 5_000);
        const ps = peerSocks[cases.indexOf(where)];
        const peerGone = new Promise((resolve) => ps.once('close', resolve));
        c.on('error', () => {});
        const chunk = pattern(64 * 1024, 3);
        let n = 0;
        while (c.send(chunk) && n < 2000) n++;
        t.true(c.writableLength > 0, 'nothing pending');
        if (where === 'outside') {
          t.notThrows(() => c.destroy());
        } else if (where === 'in drain') {
          c.once('drain', () => t.notThrows(() => c.destroy()));
          ps.resume();
        } else {
          c.once('data', () => t.notThrows(() => c.destroy()));
          write(ps, 'ping');
        }
        const [hadError] = await within(once(c, 'close'), 10_000, `close (${where})`);
        t.false(hadError);
        t.true(c.destroyed);
        ps.resume();
        await within(peerGone, 10_000, `peer sees the end (${where})`);
        t.notThrows(() => c.destroy());
      }
      await srv.close();
    });

    // ------------------------------------------------------------------ 8. byte counters
    test(`${tag}: stats() bytesSent / bytesReceived are exact`, async (t) => {
      const REPLY = 777_777;
      let peerSock;
      let peerGot;
      const srv = await peerServer(peer, backend, { allowHalfOpen: true }, (s) => {
        peerSock = s;
        peerGot = collect(s);
        peerGot.then(() => s.end(pattern(REPLY, 4)));
      });
      const c = await dial(srv.port, backend);
      const sizes = [0, 1, 100, 16383, 16384, 65535, 65536, 262144, 300000, 1 << 20];
      const sent = [];
      for (const n of sizes) {
        const b = pattern(n, n + 1);
        sent.push(b);
        if (!c.send(b)) await within(once(c, 'drain'), 10_000, 'drain');
      }
      const str = 'héllo € 𝄞';
      sent.push(Buffer.from(str));
      c.send(str);
      const big = 'x'.repeat(40_000) + '€';
      sent.push(Buffer.from(big));
      c.send(big);
      const total = sent.reduce((a, b) => a + b.length, 0);
      t.is(c.stats().bytesSent, total);
      let recv = 0;
      c.on('data', (v) => (recv += v.byteLength));
      c.end();
      await within(once(c, 'close'), 20_000, 'close');
      const got = await peerGot;
      t.is(got.length, total);
      t.is(digest(got), digest(Buffer.concat(sent)));
      t.is(c.stats().bytesSent, total);
      t.is(c.stats().bytesReceived, REPLY);
      t.is(recv, REPLY);
      t.is(c.stats().pendingBytes, 0);
      if (peer === 'zerosock') {
        t.is(peerSock.stats().bytesReceived, total);
        t.is(peerSock.stats().bytesSent, REPLY);
      } else {
        t.is(peerSock.bytesRead, total);
      }
      await srv.close();
    });

    test(`${tag}: toDuplex() bytesWritten / bytesRead are exact`, async (t) => {
      const REPLY = 123_457;
      let peerGot;
      const srv = await peerServer(peer, backend, {}, (s) => {
        peerGot = collect(s);
        write(s, pattern(REPLY, 8));
      });
      const c = await dial(srv.port, backend);
      const d = c.toDuplex();
      const parts = [pattern(10, 1), 'strings € too', pattern(200_000, 2), pattern(70_000, 3)];
      const expected = Buffer.concat(parts.map((p) => Buffer.from(p)));
      for (const p of parts) if (!d.write(p)) await within(once(d, 'drain'), 10_000, 'drain');
      let read = 0;
      d.on('data', (b) => (read += b.length));
      await until(() => read === REPLY, 10_000);
      d.end();
      await within(finished(d), 10_000, 'duplex finished');
      const got = await within(peerGot, 10_000, 'peer end');
      t.is(digest(got), digest(expected));
      t.is(d.bytesWritten, expected.length);
      t.is(d.bytesRead, REPLY);
      t.is(read, REPLY);
      await srv.close();
    });

    // ------------------------------------------------------------------ 9. server close
    test(`${backend}: server.close() waits for ${peer} clients; closeAllConnections() ends them`, async (t) => {
      const server = createServer({ backend }, (s) => {
        s.on('data', (v) => s.send(v));
        s.on('error', () => {});
      });
      await server.listen({ port: 0, host: HOST });
      const port = server.address().port;
      /** A client of `peer`'s library connected to `to`. */
      const mk = async (to) => {
        if (peer === 'net') {
          const s = net.connect(to, HOST);
          s.on('error', () => {});
          await once(s, 'connect');
          return s;
        }
        return dial(to, backend);
      };
      const clients = await Promise.all([mk(port), mk(port), mk(port)]);
      await until(() => server.connectionCount === 3, 5_000);
      let resolved = false;
      const closing = server.close().then(() => (resolved = true));
      await delay(50);
      t.false(resolved, 'close() resolved with 3 connections open');
      // End them one by one, the last from inside its own 'data' callback.
      const closes = clients.map((c) => once(c, 'close'));
      clients[0].end();
      await within(closes[0], 10_000, 'client 0 close');
      await delay(30);
      t.false(resolved, 'close() resolved with 2 connections open');
      clients[1].destroy();
      await within(closes[1], 10_000, 'client 1 close');
      await delay(30);
      t.false(resolved, 'close() resolved with 1 connection open');
      clients[2].on('data', () => clients[2].end());
      write(clients[2], 'echo');
      await within(closing, 10_000, 'server close');
      t.true(resolved);
      await within(closes[2], 10_000, 'client 2 close');

      // closeAllConnections() destroys them; close() then resolves.
      const server2 = createServer({ backend }, (s) => s.on('error', () => {}));
      await server2.listen({ port: 0, host: HOST });
      const port2 = server2.address().port;
      const more = await Promise.all([mk(port2), mk(port2), mk(port2)]);
      for (const m of more) m.on('data', () => {});
      await until(() => server2.connectionCount === 3, 5_000);
      const closing2 = server2.close();
      const closes2 = more.map((c) => once(c, 'close'));
      server2.closeAllConnections();
      await within(Promise.all(closes2), 10_000, 'clients closed by closeAllConnections');
      await within(closing2, 10_000, 'server2 close');
      t.is(server2.connectionCount, 0);
    });
  }

  // ------------------------------------------------------------------ 7. pause/resume in 'data'
  for (const mode of ['resume in same callback', 'resume on setImmediate', 'resume on timer']) {
    test(`${backend}: pause()/resume() from 'data' (${mode}) loses nothing`, async (t) => {
      const SIZE = 6 << 20;
      const data = pattern(SIZE, 11);
      const srv = await peerServer('net', backend, {}, (s) => {
        let off = 0;
        const pump = () => {
          while (off < SIZE) {
            const ok = s.write(data.subarray(off, off + 50_000));
            off += 50_000;
            if (!ok) return s.once('drain', pump);
          }
          s.end();
        };
        pump();
      });
      const c = await dial(srv.port, backend);
      const h = sha256();
      let n = 0;
      let events = 0;
      let dataWhilePaused = 0;
      let paused = false;
      c.on('data', (v) => {
        if (paused) dataWhilePaused++;
        h.update(v);
        n += v.byteLength;
        events++;
        if (events % 3 !== 0) return;
        c.pause();
        paused = true;
        const go = () => {
          paused = false;
          c.resume();
        };
        if (mode === 'resume in same callback') go();
        else if (mode === 'resume on setImmediate') setImmediate(go);
        else setTimeout(go, 1);
      });
      const closed = onClose(c);
      await within(once(c, 'end'), 30_000, 'end');
      await within(closed, 10_000, 'close');
      t.is(dataWhilePaused, 0, "'data' while paused");
      t.is(n, SIZE);
      t.is(h.digest('hex'), digest(data));
      await srv.close();
    });
  }

  // ------------------------------------------------------------------ 10. errors
  test(`${backend}: connect to a closed port rejects ECONNREFUSED (syscall connect, errno < 0)`, async (t) => {
    const probe = net.createServer();
    await new Promise((r) => probe.listen(0, HOST, r));
    const port = probe.address().port;
    await new Promise((r) => probe.close(r));
    const err = await t.throwsAsync(within(dial(port, backend), 10_000, 'connect'));
    t.is(err.code, 'ECONNREFUSED');
    t.is(err.syscall, 'connect');
    t.is(typeof err.errno, 'number');
    t.true(err.errno < 0, `errno ${err.errno}`);
    t.true(err instanceof Error);
  });

  for (const where of ['idle reader', 'busy sender']) {
    test(`${backend}: a reset mid-stream (${where}) is 'error' ECONNRESET/EPIPE then 'close'(true)`, async (t) => {
      const srv = await peerServer('net', backend, {}, (s) => {
        let n = 0;
        s.on('data', (d) => {
          n += d.length;
          if (n >= (where === 'busy sender' ? 1 << 20 : 1)) s.resetAndDestroy();
        });
        if (where === 'idle reader') s.write(pattern(100_000, 1));
      });
      const c = await dial(srv.port, backend);
      const events = [];
      let error = null;
      c.on('error', (e) => {
        error = e;
        events.push('error');
      });
      c.on('end', () => events.push('end'));
      c.on('data', () => {});
      const closed = onClose(c);
      if (where === 'idle reader') c.send('x');
      else {
        const chunk = pattern(64 * 1024, 2);
        const deadline = Date.now() + 5_000;
        let thrown = null;
        while (!c.destroyed && Date.now() < deadline) {
          try {
            if (!c.send(chunk))
              await Promise.race([new Promise((r) => c.once('drain', r)), closed, delay(5_000)]);
          } catch (err) {
            thrown = err;
            break;
          }
        }
        if (thrown) t.is(thrown.code, 'ERR_ZEROSOCK_SOCKET_CLOSED');
      }
      const [hadError] = await within(closed, 10_000, 'close');
      events.push('close');
      t.truthy(error, "no 'error'");
      t.true(['ECONNRESET', 'EPIPE'].includes(error?.code), String(error?.code));
      t.is(typeof error?.syscall, 'string');
      t.true(hadError);
      t.deepEqual(events, ['error', 'close']);
      await srv.close();
    });
  }

  // ------------------------------------------------------------------ 11. toDuplex + streams
  for (const peer of PEERS) {
    const tag = `${backend} vs ${peer}: duplex`;

    test(`${tag} — pipeline(source, duplex) delivers exact bytes in order, then FIN`, async (t) => {
      const srv = await peerServer(peer, backend, {}, (s) => collect(s));
      const c = await dial(srv.port, backend);
      const d = c.toDuplex();
      const chunks = Array.from({ length: 200 }, (_, i) => pattern(1 + ((i * 7919) % 40_000), i));
      d.resume();
      await within(pipeline(Readable.from(chunks), d), 20_000, 'pipeline to duplex');
      const data = await within(srv.accepted(0), 10_000, 'peer end');
      t.is(digest(data), digest(Buffer.concat(chunks)));
      await within(finished(d), 10_000, 'finished');
      t.true(d.destroyed);
      await srv.close();
    });

    test(`${tag} — pipeline(duplex, sink) and for await read everything; end(data) arrives before FIN`, async (t) => {
      const SIZE = 3 << 20;
      const data = pattern(SIZE, 21);
      const srv = await peerServer(peer, backend, { allowHalfOpen: true }, (s) => {
        const got = collect(s);
        s.end(data);
        return got;
      });
      // pipeline(duplex, sink)
      const c1 = await dial(srv.port, backend, { allowHalfOpen: true });
      const d1 = c1.toDuplex();
      const h = sha256();
      let n = 0;
      const sink = new Writable({
        write(chunk, _enc, cb) {
          h.update(chunk);
          n += chunk.length;
          cb();
        },
      });
      await within(pipeline(d1, sink), 20_000, 'pipeline from duplex');
      t.is(n, SIZE);
      t.is(h.digest('hex'), digest(data));
      // The writable side is still ours (allowHalfOpen): end(data) now.
      d1.end('tail after peer fin');
      await within(finished(d1), 10_000, 'd1 finished');
      t.is((await within(srv.accepted(0), 10_000, 'peer 1')).toString(), 'tail after peer fin');

      // for await reading, with writes from inside the loop.
      const c2 = await dial(srv.port, backend, { allowHalfOpen: true });
      const d2 = c2.toDuplex();
      const d2Closed = onClose(d2);
      const h2 = sha256();
      let n2 = 0;
      let first = true;
      await within(
        (async () => {
          for await (const chunk of d2) {
            h2.update(chunk);
            n2 += chunk.length;
            if (first) {
              first = false;
              d2.write('from-loop;');
            }
          }
        })(),
        20_000,
        'for await',
      );
      t.is(n2, SIZE);
      t.is(h2.digest('hex'), digest(data));
      // for await destroys the stream when the loop ends: the write was already queued.
      await within(d2Closed, 10_000, 'd2 close');
      t.true(d2.destroyed);
      const peer2 = await within(srv.accepted(1), 10_000, 'peer 2');
      t.true(peer2.toString() === 'from-loop;', `peer got ${JSON.stringify(peer2.toString())}`);
      await srv.close();
    });

    test(`${tag} — 'end' before 'close'; allowHalfOpen default auto-ends; finished() resolves`, async (t) => {
      const srv = await peerServer(peer, backend, { allowHalfOpen: true }, (s) => {
        const got = collect(s);
        s.end('hello');
        return got;
      });
      const c = await dial(srv.port, backend);
      const d = c.toDuplex();
      const events = [];
      let text = '';
      d.on('data', (b) => (text += b));
      d.on('end', () => events.push('end'));
      d.on('finish', () => events.push('finish'));
      d.on('close', () => events.push('close'));
      d.on('error', (e) => events.push(`error ${e.code}`));
      await within(finished(d), 10_000, 'finished');
      await within(
        until(() => events.includes('close'), 10_000),
        11_000,
        'close',
      );
      t.is(text, 'hello');
      t.true(events.indexOf('end') >= 0 && events.indexOf('end') < events.indexOf('close'));
      t.true(events.indexOf('finish') >= 0 && events.indexOf('finish') < events.indexOf('close'));
      t.false(events.some((e) => e.startsWith('error')));
      t.is((await within(srv.accepted(0), 10_000, 'peer FIN')).length, 0);
      await srv.close();
    });

    test(`${tag} — allowHalfOpen: true writes after the peer's FIN (from 'end')`, async (t) => {
      const srv = await peerServer(peer, backend, { allowHalfOpen: true }, (s) => {
        const got = collect(s);
        s.end('fin');
        return got;
      });
      const c = await dial(srv.port, backend);
      const d = c.toDuplex({ allowHalfOpen: true });
      d.on('data', () => {});
      d.on('end', () => {
        d.write('late;');
        setTimeout(() => d.end('bye'), 10);
      });
      await within(finished(d), 10_000, 'finished');
      t.is((await within(srv.accepted(0), 10_000, 'peer end')).toString(), 'late;bye');
      await srv.close();
    });

    test(`${tag} — destroy() with writes pending: 'close', no throw, peer sees the end`, async (t) => {
      let ps;
      const srv = await peerServer(peer, backend, {}, (s) => {
        s.pause();
        ps = s;
      });
      const c = await dial(srv.port, backend, { highWaterMark: 128 * 1024 });
      const d = c.toDuplex();
      await until(() => ps !== undefined, 5_000);
      const peerGone = once(ps, 'close');
      const writeErrors = [];
      let i = 0;
      while (d.write(pattern(64 * 1024, i), (e) => e && writeErrors.push(e)) && i < 1000) i++;
      // More writes buffered in the duplex (behind the socket's highWaterMark), then destroy.
      for (let k = 0; k < 5; k++) d.write(pattern(64 * 1024, k));
      t.true(d.writableLength > 0, 'nothing buffered in the duplex');
      d.on('error', (e) => writeErrors.push(e));
      const dClosed = onClose(d);
      t.notThrows(() => d.destroy());
      await within(dClosed, 10_000, 'duplex close');
      t.true(c.destroyed);
      ps.resume();
      await within(peerGone, 10_000, 'peer sees the end');
      for (const e of writeErrors) t.truthy(e.code, String(e));
      await t.throwsAsync(within(finished(d), 5_000, 'finished'));
      await srv.close();
    });
  }

  test(`${backend}: duplex — destroy() from inside 'data' with writes pending`, async (t) => {
    let ps;
    const srv = await peerServer('net', backend, {}, (s) => {
      ps = s;
      s.pause();
    });
    const c = await dial(srv.port, backend, { highWaterMark: 128 * 1024 });
    const d = c.toDuplex();
    await until(() => ps !== undefined, 5_000);
    const peerGone = onClose(ps);
    for (let k = 0; k < 20; k++) d.write(pattern(64 * 1024, k), () => {});
    d.on('error', () => {});
    const dClosed = onClose(d);
    const destroyed = new Promise((resolve) =>
      d.once('data', () => {
        t.notThrows(() => d.destroy());
        resolve();
      }),
    );
    ps.write('ping');
    await within(destroyed, 10_000, "'data'");
    await within(dClosed, 10_000, 'duplex close');
    t.true(c.destroyed);
    ps.resume();
    await within(peerGone, 10_000, 'peer sees the end');
    await srv.close();
  });

  test(`${backend}: duplex — finished() rejects with ECONNRESET after a peer reset`, async (t) => {
    const srv = await peerServer('net', backend, {}, (s) => {
      s.once('data', () => s.resetAndDestroy());
    });
    const c = await dial(srv.port, backend);
    const d = c.toDuplex();
    d.resume();
    d.write('trigger');
    const err = await t.throwsAsync(within(finished(d), 10_000, 'finished'));
    t.true(['ECONNRESET', 'EPIPE'].includes(err.code), String(err.code));
    t.true(d.destroyed);
    await srv.close();
  });
}
