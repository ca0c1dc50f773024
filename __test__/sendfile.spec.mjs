// sock.sendFile() on both backends: whole files and ranges of 0 B, 1 B, a page ± 1 and 24 MiB
// arrive byte for byte at a node:net peer (in this process and in another one), in order with
// send() before and after, called from inside a 'data' callback too; bad input gets Node's
// codes; TLS refuses it; descriptors come back.
import test from 'ava';
import net from 'node:net';
import { mkdtempSync, mkdirSync, writeFileSync, openSync, closeSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readdirSync, readlinkSync } from 'node:fs';
const openFds = () =>
  readdirSync('/proc/self/fd')
    .map((f) => {
      try {
        return readlinkSync(`/proc/self/fd/${f}`);
      } catch {
        return f;
      }
    })
    .join(' ');
const fileFds = () =>
  openFds()
    .split(' ')
    .filter((l) => l.startsWith('/') || l.startsWith('socket:')).length;
import { connect } from 'zerosock';
import { backends, pattern, sha256, until, within } from './helpers.mjs';
import { startEcho } from './peers/echo.mjs';

const dir = mkdtempSync(join(tmpdir(), 'zerosock-sendfile-'));
process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
const file = (name, len, seed = 1) => {
  const p = join(dir, name);
  writeFileSync(p, pattern(len, seed));
  return p;
};

/** A node:net sink in this process: resolves with every byte it got once the peer ends. */
async function sink() {
  let resolveBytes;
  const bytes = new Promise((r) => (resolveBytes = r));
  const server = net.createServer((s) => {
    const parts = [];
    s.on('data', (d) => parts.push(d));
    s.on('end', () => {
      s.end();
      resolveBytes(Buffer.concat(parts));
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { port: server.address().port, bytes, close: () => server.close() };
}

for (const backend of backends) {
  test.serial(
    `${backend}: files of 0 B, 1 B, a page ± 1 and ranges arrive in order with send()`,
    async (t) => {
      const fds = fileFds();
      for (const len of [0, 1, 4095, 4096, 4097, 1 << 20]) {
        const p = file(`f${len}`, len, len + 1);
        const k = await sink();
        const s = await connect({ backend, port: k.port, host: '127.0.0.1' });
        s.send('head:');
        const r = await within(s.sendFile(p), 10_000, 'sendFile');
        t.is(r.bytes, len);
        // a range of the same file, by descriptor (the caller's: not closed by zerosock)
        const fd = openSync(p, 'r');
        const off = Math.floor(len / 3);
        const n = Math.floor(len / 2) - off;
        const r2 = await s.sendFile(fd, { offset: off, length: n });
        t.is(r2.bytes, n);
        closeSync(fd); // throws if zerosock had closed it
        s.end(':tail');
        const got = await within(k.bytes, 10_000, 'sink');
        const data = pattern(len, len + 1);
        const want = Buffer.concat([
          Buffer.from('head:'),
          data,
          data.subarray(off, off + n),
          Buffer.from(':tail'),
        ]);
        t.true(got.equals(want), `${len} B`);
        k.close();
      }
      // files and sockets come back (io_uring keeps a small cache of splice pipes per engine)
      await until(() => fileFds() <= fds, 5_000).catch(() => {});
      t.true(fileFds() <= fds, `descriptors back: ${openFds()}`);
    },
  );

  test(`${backend}: 24 MiB to an echo peer in another process, started from inside a 'data' callback`, async (t) => {
    const len = 24 << 20;
    const p = file('big', len, 3);
    const peer = await startEcho('net', backend);
    try {
      const s = await connect({ backend, port: peer.port, host: '127.0.0.1' });
      const h = sha256();
      let got = 0;
      let started = false;
      const done = new Promise((resolve, reject) => {
        s.on('data', (v) => {
          if (!started) {
            started = true;
            s.sendFile(p).then((r) => {
              t.is(r.bytes, len);
              s.end();
            }, reject);
            return; // the 'go' byte is not part of the file
          }
          h.update(v);
          got += v.byteLength;
        });
        s.on('close', resolve);
      });
      s.send('g');
      await within(done, 60_000, 'echo of the file');
      t.is(got, len);
      t.is(h.digest('hex'), sha256().update(pattern(len, 3)).digest('hex'));
    } finally {
      peer.kill();
    }
  });

  test(`${backend}: bad input is refused with Node's codes`, async (t) => {
    const k = await sink();
    const s = await connect({ backend, port: k.port, host: '127.0.0.1' });
    const p = file('small', 100);
    await t.throwsAsync(s.sendFile(join(dir, 'missing')), { code: 'ENOENT' });
    mkdirSync(join(dir, 'adir'), { recursive: true });
    await t.throwsAsync(s.sendFile(join(dir, 'adir')), { code: 'EISDIR' });
    await t.throwsAsync(async () => s.sendFile(p, { offset: 101 }), { code: 'ERR_OUT_OF_RANGE' });
    await t.throwsAsync(async () => s.sendFile(p, { offset: 50, length: 51 }), {
      code: 'ERR_OUT_OF_RANGE',
    });
    await t.throwsAsync(async () => s.sendFile(p, { offset: -1 }), { code: 'ERR_OUT_OF_RANGE' });
    await t.throwsAsync(async () => s.sendFile(p, { nope: 1 }), { code: 'ERR_INVALID_ARG_VALUE' });
    await t.throwsAsync(async () => s.sendFile({}), { code: 'ERR_INVALID_ARG_TYPE' });
    // still usable afterwards
    const r = await s.sendFile(p);
    t.is(r.bytes, 100);
    s.end();
    const got = await within(k.bytes, 10_000, 'sink');
    t.true(got.equals(pattern(100, 1)));
    k.close();
  });
}
