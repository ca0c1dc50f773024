// Descriptor exhaustion: a zerosock process under `ulimit -n 256`. accept() and connect()
// fail with EMFILE as Node-style system errors (code, negative errno, syscall; not a
// ZerosockError), nothing crashes, the connections already open keep being served, and
// waiting connections are accepted once descriptors are free again.
import test from 'ava';
import { spawn } from 'node:child_process';
import { once as onceEvent } from 'node:events';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { backends, until, within } from './helpers.mjs';

const CHILD = fileURLToPath(new URL('./emfile-child.mjs', import.meta.url));
const LIMIT = 256;

/** The child under `ulimit -n LIMIT` (soft and hard: node cannot raise it back). */
function limited(t, args) {
  const child = spawn(
    'bash',
    ['-c', `ulimit -n ${LIMIT} && exec "$0" "$@"`, process.execPath, CHILD, ...args],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  const messages = [];
  let buf = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d) => {
    buf += d;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      messages.push(JSON.parse(buf.slice(0, nl)));
      buf = buf.slice(nl + 1);
    }
  });
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  const exited = onceEvent(child, 'exit').then(([code, signal]) => ({ code, signal }));
  t.teardown(() => child.exitCode === null && child.kill('SIGKILL'));
  const next = async (type, ms = 20_000) => {
    const start = messages.length;
    await until(
      () => messages.slice(start).some((m) => m.type === type) || child.exitCode !== null,
      ms,
    );
    const m = messages.slice(start).find((x) => x.type === type);
    if (!m) throw new Error(`child exited without '${type}': ${stderr}`);
    return m;
  };
  const first = async (type, ms = 20_000) => {
    await until(() => messages.some((m) => m.type === type) || child.exitCode !== null, ms);
    const m = messages.find((x) => x.type === type);
    if (!m) throw new Error(`child exited without '${type}': ${stderr}`);
    return m;
  };
  const send = (cmd) => child.stdin.write(`${JSON.stringify(cmd)}\n`);
  const status = async () => {
    send({ type: 'status' });
    return next('status');
  };
  return { child, messages, exited, first, next, send, status, stderr: () => stderr };
}

for (const backend of backends) {
  test.serial(
    `${backend}: accept hits EMFILE under ulimit -n ${LIMIT}; open connections keep being served`,
    async (t) => {
      const c = limited(t, ['server', backend]);
      const { port, fds } = await c.first('listening');
      const TOTAL = 400;
      const echoed = new Set();
      const peers = [];
      for (let i = 0; i < TOTAL; i++) {
        const s = net.connect(port, '127.0.0.1');
        s.on('error', () => {});
        s.setEncoding('utf8');
        let got = '';
        s.on('data', (d) => {
          got += d;
          if (got === `hello ${i}`) echoed.add(i);
        });
        s.on('connect', () => s.write(`hello ${i}`));
        peers.push(s);
      }
      const { error, accepted: acceptedAtError } = await c.first('accept-error');
      t.is(error.code, 'EMFILE');
      t.is(error.errno, -24);
      t.is(error.syscall, 'accept');
      t.not(error.name, 'ZerosockError');
      // Everything accepted before the limit is served.
      await until(async () => echoed.size >= acceptedAtError, 20_000).catch(() => {});
      let st = await c.status();
      await until(() => echoed.size >= st.accepted, 20_000).catch(() => {});
      st = await c.status();
      t.true(
        st.accepted >= LIMIT - fds - 16 && st.accepted < LIMIT,
        `accepted ${st.accepted} (fds at listen ${fds})`,
      );
      t.is(echoed.size, st.accepted, 'every accepted connection echoed');
      t.true(st.accepted < TOTAL, 'the limit was hit');
      t.true(st.errors >= 1);
      t.deepEqual(st.codes, ['accept EMFILE']);
      // Served again: a second round trip on every accepted connection.
      const served = [...echoed];
      const again = new Set();
      for (const i of served) {
        const s = peers[i];
        s.removeAllListeners('data');
        let got = '';
        s.on('data', (d) => {
          got += d;
          if (got === `again ${i}`) again.add(i);
        });
        s.write(`again ${i}`);
      }
      await until(() => again.size === served.length, 20_000).catch(() => {});
      t.is(again.size, served.length, 'open connections are still served after EMFILE');
      // Free 100 descriptors: waiting connections get accepted and answered.
      const before = echoed.size;
      for (const i of served.slice(0, 100)) peers[i].destroy();
      await until(() => echoed.size >= before + 50, 20_000).catch(() => {});
      t.true(
        echoed.size >= before + 50,
        `after freeing 100 fds: ${echoed.size - before} more served`,
      );
      for (const s of peers) s.destroy();
      c.send({ type: 'close' });
      const closed = await c.next('closed');
      t.is(closed.openSockets, 0);
      const { code } = await within(c.exited, 10_000, 'child exit');
      t.is(code, 0, c.stderr());
      t.log(
        `${backend}: limit ${LIMIT}: accepted ${st.accepted} of ${TOTAL} before EMFILE (${st.errors} accept errors), ${echoed.size - before} more after freeing 100`,
      );
    },
  );

  test.serial(
    `${backend}: connect() rejects with EMFILE under ulimit -n ${LIMIT}; open connections still work`,
    async (t) => {
      const server = net.createServer((s) => {
        s.on('data', (d) => s.write(d));
        s.on('error', () => {});
      });
      await new Promise((r) => server.listen(0, '127.0.0.1', r));
      const c = limited(t, ['client', backend, String(server.address().port)]);
      const r = await c.first('result', 60_000);
      t.truthy(r.failure, 'connect failed at some point');
      t.is(r.failure.code, 'EMFILE');
      t.is(r.failure.errno, -24);
      t.true(['socket', 'connect'].includes(r.failure.syscall), r.failure.syscall);
      t.false(r.failure.isZerosockError, 'a Node-style system error, not a ZerosockError');
      t.true(r.connected > LIMIT / 2 && r.connected < LIMIT, `connected ${r.connected}`);
      t.is(r.echoed, r.connected, 'every connection made before EMFILE still echoes');
      t.is(r.again, 'connected', 'connect works again once descriptors are free');
      const { code } = await within(c.exited, 10_000, 'child exit');
      t.is(code, 0, c.stderr());
      t.log(`${backend}: ${r.connected} connects before EMFILE (${r.failure.syscall})`);
      server.close();
    },
  );
}
