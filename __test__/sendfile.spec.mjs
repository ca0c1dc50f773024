// sock.sendFile() on both backends: whole files and ranges of 0 B, 1 B, a page ± 1, 24 MiB and
// 1 GiB arrive byte for byte at a node:net peer (in this process and in another one), in order
// with send() before and after, called from inside a 'data' callback too; bad input and closed
// descriptors get Node's codes; destroy() mid-transfer (from a timer, from a promise) and a
// peer's reset reject the promise; descriptors come back.
import test from 'ava';
import net from 'node:net';
import {
  mkdtempSync,
  mkdirSync,
  writeFileSync,
  openSync,
  closeSync,
  ftruncateSync,
  writeSync,
  rmSync,
} from 'node:fs';
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
const poolInUse = (backend) => stats()[backend]?.poolInUse ?? 0;
/** Pool buffers `backend`'s engine holds at rest (made now if need be: a server that never
 * listens makes it, with the receive buffers it keeps posted). */
const poolBaseline = (backend) => {
  createServer({ backend });
  return poolInUse(backend);
};
const fileFds = () =>
  openFds()
    .split(' ')
    .filter((l) => l.startsWith('/') || l.startsWith('socket:')).length;
import { connect, createServer, stats } from 'zerosock';
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
      const pool = poolBaseline(backend);
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
      await until(() => fileFds() <= fds && poolInUse(backend) <= pool, 5_000).catch(() => {});
      t.true(fileFds() <= fds, `descriptors back: ${openFds()}`);
      t.true(poolInUse(backend) <= pool, `pool in use ${poolInUse(backend)}, before ${pool}`);
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

  test.serial(
    `${backend}: 1 GiB to a node:net sink in another process, SHA-256 equal`,
    async (t) => {
      const chunk = 1 << 20;
      const n = 1024;
      const p = join(dir, `gib-${backend}`);
      const fd = openSync(p, 'w');
      const want = sha256();
      const block = pattern(chunk, 9);
      for (let i = 0; i < n; i++) {
        block.writeUInt32LE(i, (i * 4099) % (chunk - 4)); // every MiB differs: a misplaced one shows
        writeSync(fd, block);
        want.update(block);
      }
      closeSync(fd);
      const { spawn } = await import('node:child_process');
      const child = spawn(
        process.execPath,
        [
          '-e',
          `const h = require('node:crypto').createHash('sha256'); let n = 0;
         const s = require('node:net').createServer((c) => {
           c.on('data', (d) => { n += d.length; h.update(d); });
           c.on('end', () => { process.stdout.write(JSON.stringify({ n, sha: h.digest('hex') }) + '\\n'); c.end(); });
         }).listen(0, '127.0.0.1', () => process.stdout.write(String(s.address().port) + '\\n'));`,
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      t.teardown(() => {
        child.kill();
        rmSync(p, { force: true });
      });
      const lines = [];
      let wake = () => {};
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (d) => {
        lines.push(...d.split('\n').filter(Boolean));
        wake();
      });
      const line = (i, what) =>
        within(
          new Promise((r) => {
            const check = () => (lines.length > i ? r(lines[i]) : (wake = check));
            check();
          }),
          60_000,
          what,
        );
      const port = Number(await line(0, 'sink listening'));
      const s = await connect({ backend, port, host: '127.0.0.1' });
      const r = await within(s.sendFile(p), 60_000, 'sendFile of 1 GiB');
      t.is(r.bytes, n * chunk);
      s.end();
      const got = JSON.parse(await line(1, 'sink done'));
      t.is(got.n, n * chunk);
      t.is(got.sha, want.digest('hex'));
    },
  );

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

/** A sparse file of `len` bytes (zeros): big without filling the disk or the heap. */
const sparse = (name, len) => {
  const p = join(dir, name);
  const fd = openSync(p, 'w');
  ftruncateSync(fd, len);
  closeSync(fd);
  return p;
};

for (const backend of backends) {
  test.serial(`${backend}: a closed descriptor is EBADF, and the socket still sends`, async (t) => {
    const k = await sink();
    const s = await connect({ backend, port: k.port, host: '127.0.0.1' });
    const p = file('ebadf', 10, 4);
    const fd = openSync(p, 'r');
    closeSync(fd);
    await t.throwsAsync(s.sendFile(fd), { code: 'EBADF' });
    const r = await s.sendFile(p);
    t.is(r.bytes, 10);
    s.end();
    t.true((await within(k.bytes, 10_000, 'sink')).equals(pattern(10, 4)));
    k.close();
  });

  test.serial(
    `${backend}: destroy() during a transfer (from a timer, then from a promise) rejects it and gives the descriptors back`,
    async (t) => {
      const fds = fileFds();
      const pool = poolBaseline(backend);
      const p = sparse('huge', 1 << 30);
      // a peer in another process that reads nothing: the transfer cannot finish
      const { spawn } = await import('node:child_process');
      const child = spawn(
        process.execPath,
        [
          '-e',
          `const s = require('node:net').createServer((c) => c.pause()).listen(0, '127.0.0.1', () => process.stdout.write(String(s.address().port) + '\\n'));`,
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      t.teardown(() => child.kill());
      const port = await within(
        new Promise((r) => child.stdout.once('data', (d) => r(Number(String(d).trim())))),
        10_000,
        'peer listening',
      );
      for (const how of ['timer', 'promise']) {
        const s = await connect({ backend, port, host: '127.0.0.1' });
        const closed = new Promise((r) => s.once('close', r));
        const sending = s.sendFile(p);
        if (how === 'timer') setTimeout(() => s.destroy(), 200);
        else Promise.resolve().then(() => s.destroy());
        const err = await within(
          sending.then(
            () => null,
            (e) => e,
          ),
          10_000,
          'sendFile settles',
        );
        t.truthy(err, `${how}: the transfer of 1 GiB to a peer that reads nothing cannot succeed`);
        t.is(err?.code, 'ERR_ZEROSOCK_SOCKET_CLOSED', how);
        await within(closed, 10_000, "'close'");
        // after destroy: refused at once
        await t.throwsAsync(s.sendFile(p), {
          code: 'ERR_ZEROSOCK_SOCKET_CLOSED',
          message: 'sendFile() on a closed socket',
        });
      }
      // +1: the child's pipe
      await until(() => fileFds() <= fds + 1 && poolInUse(backend) <= pool, 5_000).catch(() => {});
      t.true(fileFds() <= fds + 1, `descriptors back: ${openFds()}`);
      t.true(poolInUse(backend) <= pool, `pool in use ${poolInUse(backend)}, before ${pool}`);
    },
  );

  test.serial(
    `${backend}: the peer resets mid-transfer: the promise rejects with a system error`,
    async (t) => {
      const p = sparse('reset', 256 << 20);
      let got = 0;
      const server = net.createServer((c) => {
        c.on('data', (d) => {
          got += d.length;
          if (got >= 1 << 20) c.resetAndDestroy();
        });
        c.on('error', () => {});
      });
      await new Promise((r) => server.listen(0, '127.0.0.1', r));
      t.teardown(() => server.close());
      const s = await connect({ backend, port: server.address().port, host: '127.0.0.1' });
      s.on('error', () => {});
      const err = await within(
        s.sendFile(p).then(
          () => null,
          (e) => e,
        ),
        20_000,
        'sendFile settles',
      );
      t.truthy(err, '256 MiB cannot all arrive at a peer that reset after 1 MiB');
      t.regex(
        String(err?.code),
        /^(ECONNRESET|EPIPE)$/,
        "the socket's own error, as node:net gives it",
      );
      s.destroy();
    },
  );
}

for (const backend of backends) {
  test.serial(
    `${backend}: a file that shrinks while it is sent, with end() called right after sendFile(): the promise says the bytes sent, then 'finish' and 'close' come`,
    async (t) => {
      const p = file('shrinks', 64 << 20, 3);
      let got = 0;
      let peer;
      // reads nothing for 300 ms: the transfer is still on when the file is cut to 1 MiB
      const server = net.createServer((c) => {
        peer = c;
        c.pause();
        c.on('data', (d) => (got += d.length));
        c.on('error', () => {});
        c.on('end', () => c.end());
        setTimeout(() => c.resume(), 300);
      });
      await new Promise((r) => server.listen(0, '127.0.0.1', r));
      t.teardown(() => server.close());
      const s = await connect({ backend, port: server.address().port, host: '127.0.0.1' });
      const steps = [];
      for (const ev of ['finish', 'end', 'close']) s.once(ev, () => steps.push(ev));
      const sending = s.sendFile(p);
      s.end(); // from here on only the file's bytes keep the socket open
      await new Promise((r) => setTimeout(r, 50));
      const fd = openSync(p, 'r+');
      ftruncateSync(fd, 1 << 20);
      closeSync(fd);
      const r = await within(sending, 20_000, 'sendFile settles');
      t.true(r.bytes >= 1 << 20 && r.bytes < 64 << 20, `${r.bytes} B sent of a file cut short`);
      await until(() => steps.includes('close'), 10_000).catch(() => {});
      t.deepEqual(steps, ['finish', 'end', 'close'], `after the short file: ${steps}`);
      t.is(s.writableLength, 0);
      await until(() => got === r.bytes, 10_000);
      t.truthy(peer);
    },
  );
}
