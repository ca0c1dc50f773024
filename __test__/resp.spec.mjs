// examples/resp.mjs, the RESP server the request/response bench loads: in a child process on
// each backend (and on node:net), against a node:net client that splits frames anywhere and
// pipelines, and against the real redis-cli and redis-benchmark when installed.
import test from 'ava';
import net from 'node:net';
import { execFile, execFileSync, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { backends, within } from './helpers.mjs';

const script = fileURLToPath(new URL('../examples/resp.mjs', import.meta.url));
const have = (tool) => {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};
const redisTools = have('redis-cli') && have('redis-benchmark');
if (!redisTools)
  console.log('resp: redis-cli / redis-benchmark not installed; those cases skipped');

/** Starts the example in a child process; resolves `{ port, stop() }`. */
async function startServer(lib, backend) {
  const child = fork(script, ['--port', '0', ...(lib === 'net' ? ['--net'] : [])], {
    env: { ...process.env, ...(backend ? { ZEROSOCK_BACKEND: backend } : {}) },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const port = await within(
    new Promise((resolve, reject) => {
      child.once('message', (m) => resolve(m.port));
      child.once('exit', (code) => reject(new Error(`resp server exited (${code})`)));
    }),
    10_000,
    'resp server start',
  );
  return { port, stop: () => child.kill() };
}

/** Sends `bytes` in pieces of `piece` bytes (each its own write, a tick apart); collects `n` bytes. */
function exchange(port, bytes, want, piece) {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1');
    c.setNoDelay(true);
    let got = Buffer.alloc(0);
    c.on('data', (d) => {
      got = Buffer.concat([got, d]);
      if (got.length >= want.length) {
        c.destroy();
        resolve(got.toString('latin1'));
      }
    });
    c.on('error', reject);
    let at = 0;
    const next = () => {
      if (at >= bytes.length) return;
      c.write(bytes.subarray(at, at + piece));
      at += piece;
      setImmediate(next);
    };
    c.on('connect', next);
  });
}

const cmd = (...args) =>
  `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
const script1 =
  cmd('PING') +
  cmd('SET', 'k', 'v a l') +
  cmd('GET', 'k') +
  cmd('INCR', 'n') +
  cmd('INCR', 'n') +
  cmd('DEL', 'k', 'n', 'nope') +
  cmd('GET', 'k') +
  'PING\r\n' +
  cmd('ECHO', 'x'.repeat(70_000)) +
  cmd('NOPE');
const replies =
  '+PONG\r\n+OK\r\n$5\r\nv a l\r\n:1\r\n:2\r\n:2\r\n$-1\r\n+PONG\r\n' +
  `$70000\r\n${'x'.repeat(70_000)}\r\n-ERR unknown command 'nope'\r\n`;

const sides = [...backends.map((b) => ['zerosock', b]), ['net', undefined]];
for (const [lib, backend] of sides) {
  const name = lib === 'net' ? 'node:net' : `zerosock ${backend}`;
  test(`${name}: pipelined commands, frames split at every byte and in big pieces`, async (t) => {
    const server = await startServer(lib, backend);
    try {
      const bytes = Buffer.from(script1, 'latin1');
      for (const piece of [1, 7, 4096, bytes.length]) {
        const got = await within(
          exchange(server.port, bytes, replies, piece),
          20_000,
          `piece ${piece}`,
        );
        t.is(got, replies, `split every ${piece} B`);
      }
    } finally {
      server.stop();
    }
  });

  test(`${name}: redis-cli and redis-benchmark talk to it`, async (t) => {
    if (!redisTools) {
      t.log('redis-cli / redis-benchmark not installed: skipped');
      t.pass();
      return;
    }
    const server = await startServer(lib, backend);
    try {
      const cli = (...args) =>
        new Promise((resolve, reject) =>
          execFile('redis-cli', ['-p', String(server.port), ...args], (err, out) =>
            err ? reject(err) : resolve(out.trim()),
          ),
        );
      t.is(await cli('SET', 'a', '41'), 'OK');
      t.is(await cli('INCR', 'a'), '42');
      t.is(await cli('GET', 'a'), '42');
      const csv = await new Promise((resolve, reject) =>
        execFile(
          'redis-benchmark',
          [
            '-p',
            String(server.port),
            '-c',
            '20',
            '-n',
            '20000',
            '-P',
            '16',
            '-t',
            'set,get',
            '--csv',
          ],
          { timeout: 60_000 },
          (err, out) => (err ? reject(err) : resolve(out)),
        ),
      );
      for (const row of ['"SET"', '"GET"']) {
        const line = csv.split('\n').find((l) => l.startsWith(row));
        t.truthy(line, `${row} row in ${csv}`);
        t.true(Number(JSON.parse(`[${line}]`)[1]) > 0);
      }
    } finally {
      server.stop();
    }
  });
}
