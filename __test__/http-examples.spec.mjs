// The examples run as documented (`node examples/<name>.mjs`), on every backend, and answer
// correctly: echo (1 thread and 2 workers), HTTP on zerosock and its node:http twin, the kv
// line protocol. Each is stopped with SIGTERM and must exit 0.
import test from 'ava';
import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { backends, pattern, sha256, within } from './helpers.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const host = '127.0.0.1';

/** A port that was free a moment ago (the example binds it itself). */
function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, host, () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Starts an example; resolves with its port once it printed its address. */
async function run(t, backend, name, args = []) {
  const child = spawn(process.execPath, [join(root, 'examples', name), ...args], {
    cwd: root,
    env: { ...process.env, ZEROSOCK_BACKEND: backend },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise((resolve) =>
    child.once('exit', (code, sig) => resolve({ code, sig })),
  );
  t.teardown(() => child.kill('SIGKILL'));
  const port = await within(
    new Promise((resolve, reject) => {
      child.stdout.on('data', (d) => {
        out += d;
        const m = /127\.0\.0\.1:(\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      exited.then(({ code }) => reject(new Error(`${name} exited (${code}): ${err}`)));
    }),
    15_000,
    `${name} start`,
  );
  return {
    port,
    stop: async () => {
      child.kill('SIGTERM');
      const r = await within(exited, 10_000, `${name} exit`);
      t.is(r.code, 0, `${name} exits cleanly: ${err}`);
    },
  };
}

/** Sends `chunks` one by one on a node:net socket; resolves with all it receives until FIN. */
function exchange(port, chunks, { end = true } = {}) {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, host);
    const got = [];
    c.on('data', (d) => got.push(d));
    c.on('end', () => resolve(Buffer.concat(got)));
    c.on('error', reject);
    (async () => {
      for (const ch of chunks) {
        c.write(ch);
        await new Promise((r) => setTimeout(r, 2));
      }
      if (end) c.end();
    })();
  });
}

function get(port, path, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host, port, path, method: body ? 'POST' : 'GET', agent: false },
      (res) => {
        const h = sha256();
        let n = 0;
        let text = '';
        res.on('data', (d) => {
          h.update(d);
          n += d.length;
          if (text.length < 200) text += d.toString('latin1');
        });
        res.on('end', () => resolve({ status: res.statusCode, n, sha: h.digest('hex'), text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

for (const backend of backends) {
  test(`${backend}: examples/echo.mjs echoes`, async (t) => {
    const ex = await run(t, backend, 'echo.mjs', ['--port', String(await freePort())]);
    const data = pattern(300_000, 9);
    const back = await within(
      exchange(ex.port, [data.subarray(0, 1000), data.subarray(1000)]),
      10_000,
      'echo',
    );
    t.true(back.equals(data));
    await ex.stop();
  });

  test(`${backend}: examples/echo.mjs --workers 2 echoes on every connection`, async (t) => {
    const ex = await run(t, backend, 'echo.mjs', [
      '--port',
      String(await freePort()),
      '--workers',
      '2',
    ]);
    const replies = await within(
      Promise.all(Array.from({ length: 20 }, (_, i) => exchange(ex.port, [`hello ${i}`]))),
      10_000,
      'echo x20',
    );
    replies.forEach((r, i) => t.is(r.toString(), `hello ${i}`));
    await ex.stop();
  });

  test(`${backend}: examples/http.mjs and its node:http twin answer the same`, async (t) => {
    const body = pattern(1 << 20, 4);
    const want = `${sha256().update(body).digest('hex')} ${body.length}\n`;
    for (const [name, args] of [
      ['http.mjs', []],
      ['http.mjs', ['--workers', '2']],
      ['http-node.mjs', []],
    ]) {
      const ex = await run(t, backend, name, ['--port', String(await freePort()), ...args]);
      const hello = await get(ex.port, '/');
      t.is(hello.text, 'hello world\n', name);
      const sum = await get(ex.port, '/sha256', body);
      t.is(sum.text, want, `${name} POST /sha256`);
      const big = await get(ex.port, '/bytes/3000000');
      t.is(big.n, 3_000_000, `${name} GET /bytes`);
      await ex.stop();
    }
  });

  test(`${backend}: examples/kv.mjs speaks its line protocol, lines split anywhere`, async (t) => {
    const ex = await run(t, backend, 'kv.mjs', ['--port', String(await freePort())]);
    const script =
      'PING\r\nSET greeting hello world\nGET greeting\nKEYS\nDEL greeting\nGET greeting\nDEL x\nNOPE\nQUIT\nPING\n';
    // Fragments that cut lines (and a \r\n) in the middle.
    const cuts = [0, 3, 7, 8, 20, 21, 40, 55, 56, 70, script.length];
    const parts = cuts.slice(1).map((c, i) => script.slice(cuts[i], c));
    const reply = await within(exchange(ex.port, parts, { end: false }), 10_000, 'kv');
    t.is(
      reply.toString(),
      "PONG\nOK\nVALUE hello world\n1\n1\nNIL\n0\nERR unknown command 'NOPE'\nBYE\n",
    );
    await ex.stop();
  });
}
