// Web frameworks on zerosock, started the way their docs say (fastify's serverFactory, hapi's
// listener, express and koa handlers on an http.Server), on every backend: requests from a
// client in another process and from this one, counted as accepted by zerosock itself (its
// server's 'connection' events and the engine's `accepted`), with no node:net listener in the
// process; graceful close with a request in flight; EADDRINUSE through each framework's own
// listen error path. Serial: the engine counters are per process.
import test from 'ava';
import { execFile, spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import Fastify from 'fastify';
import Hapi from '@hapi/hapi';
import express from 'express';
import Koa from 'koa';
import {
  createHttpServer,
  fastifyServerFactory,
  stats,
  ZerosockError,
  ZerosockHttpServer,
} from 'zerosock';
import { backends, until, within } from './helpers.mjs';
import { httpLoad } from './peers/http-load.mjs';

const host = '127.0.0.1';
const nodeListeners = () =>
  process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap' || r === 'PipeServerWrap')
    .length;

/**
 * The /slow handlers await `gate.pass()`: it says the request `arrived`, then waits until the
 * test calls `gate.open()`, and gives the body.
 */
function makeGate() {
  const gate = {};
  let hit;
  gate.arrived = new Promise((resolve) => (hit = resolve));
  const opened = new Promise((resolve) => (gate.open = resolve));
  gate.pass = async () => {
    hit();
    await opened;
    return 'slow done';
  };
  return gate;
}

/** fastify with `serverFactory`, listening with `listen(listenOptions)` plus the port. */
function fastifyOn(serverFactory, gate, listenOptions) {
  const app = Fastify({ serverFactory });
  app.get('/', async () => 'fastify');
  app.get('/slow', gate.pass);
  return {
    server: app.server,
    start: (port) => app.listen({ ...listenOptions, port }),
    stop: () => app.close(),
    body: 'fastify',
  };
}

function get(port, path = '/', agent = false) {
  return new Promise((resolve, reject) => {
    http
      .get({ host, port, path, agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode, body }));
      })
      .on('error', reject);
  });
}

/**
 * Each framework, created and started as its docs say. `start(port)` is the framework's own
 * listen (a promise that rejects with the listen error); `server` the http.Server it serves.
 */
const FRAMEWORKS = {
  'fastify (serverFactory: fastifyServerFactory())': (backend, gate) =>
    fastifyOn(fastifyServerFactory({ backend }), gate, { host }),
  // fastify's default host: 'localhost' resolves to 127.0.0.1 here (the clients use it).
  'fastify (serverFactory: (h) => createHttpServer(h).httpServer), host localhost': (
    backend,
    gate,
  ) => fastifyOn((h) => createHttpServer(h, { backend }).httpServer, gate, {}),
  'hapi (listener, autoListen)': (backend, gate) => {
    let port = 0;
    const make = () => {
      const s = Hapi.server({
        listener: createHttpServer({ backend }).httpServer,
        autoListen: true,
        host,
        port,
      });
      s.route({ method: 'GET', path: '/', handler: () => 'hapi' });
      s.route({ method: 'GET', path: '/slow', handler: gate.pass });
      return s;
    };
    let hapi = make();
    return {
      get server() {
        return hapi.listener;
      },
      start: (p) => {
        // hapi takes its port when the server is made.
        if (p !== port) {
          port = p;
          hapi = make();
        }
        return hapi.start();
      },
      stop: () => hapi.stop({ timeout: 5_000 }),
      body: 'hapi',
    };
  },
  'express (createHttpServer(app).listen())': (backend, gate) => {
    const app = express();
    app.get('/', (req, res) => res.send('express'));
    app.get('/slow', (req, res) => void gate.pass().then((body) => res.send(body)));
    const zs = createHttpServer(app, { backend });
    return {
      server: zs.httpServer,
      start: (port) => zs.listen({ port, host }),
      stop: () => zs.close(),
      body: 'express',
    };
  },
  'koa (new ZerosockHttpServer(app.callback()).listen(port, host, cb))': (backend, gate) => {
    const app = new Koa();
    app.use(async (ctx) => {
      ctx.body = ctx.path === '/slow' ? await gate.pass() : 'koa';
    });
    const server = new ZerosockHttpServer(app.callback(), { backend });
    return {
      server,
      start: (port) =>
        new Promise((resolve, reject) => {
          server.once('error', reject);
          server.listen(port, host, () => {
            server.off('error', reject);
            resolve();
          });
        }),
      stop: () => new Promise((resolve) => server.close(() => resolve())),
      body: 'koa',
    };
  },
};

for (const backend of backends) {
  for (const [name, create] of Object.entries(FRAMEWORKS)) {
    test.serial(
      `${backend}: ${name}: requests from another process and this one, accepted by zerosock`,
      async (t) => {
        const fw = create(backend, makeGate());
        const listenersBefore = nodeListeners();
        await within(fw.start(0), 10_000, 'start');
        t.teardown(() => fw.stop());
        const server = fw.server;
        t.true(server instanceof ZerosockHttpServer);
        t.true(server.listening);
        t.true(server.zerosock.listening, 'the zerosock listener is the one listening');
        t.is(nodeListeners(), listenersBefore, 'no node:net listener was opened');
        let accepted = 0;
        server.zerosock.on('connection', () => accepted++);
        const engineBefore = stats()[backend].accepted;
        const { port } = server.address();

        const peer = await httpLoad({ port, requests: 200, connections: 4 });
        t.is(peer.ok, 200);
        t.deepEqual(peer.bodies, [fw.body]);
        const local = await Promise.all(Array.from({ length: 10 }, () => get(port)));
        t.deepEqual(
          local.map((r) => `${r.status} ${r.body}`),
          Array(10).fill(`200 ${fw.body}`),
        );
        t.true(peer.sockets >= 1 && peer.sockets <= 4);
        t.is(accepted, peer.sockets + 10, 'zerosock accepted every connection');
        t.is(stats()[backend].accepted - engineBefore, accepted, 'and its engine counted them');
      },
    );

    test.serial(
      `${backend}: ${name}: graceful close lets the request in flight finish first`,
      async (t) => {
        const gate = makeGate();
        const fw = create(backend, gate);
        await within(fw.start(0), 10_000, 'start');
        const { port } = fw.server.address();
        const slow = httpLoad({ port, requests: 1, connections: 1, path: '/slow' });
        await within(gate.arrived, 10_000, 'the slow request arriving');
        let closed = false;
        const closing = fw.stop().then(() => (closed = true));
        await until(() => !fw.server.zerosock.listening, 5_000);
        const refused = await new Promise((resolve) => {
          const c = net.connect(port, host);
          c.on('connect', () => (c.destroy(), resolve('connected')));
          c.on('error', (err) => resolve(err.code));
        });
        t.is(refused, 'ECONNREFUSED', 'no new connection once closing');
        await new Promise((r) => setTimeout(r, 100));
        t.false(closed, 'close waits for the request in flight');
        gate.open();
        const result = await slow;
        t.is(result.ok, 1);
        t.deepEqual(result.bodies, ['slow done']);
        await within(closing, 10_000, 'close');
        t.true(closed);
        t.is(fw.server.connectionCount, 0);
      },
    );

    test.serial(
      `${backend}: ${name}: EADDRINUSE comes through the framework's listen`,
      async (t) => {
        const taken = net.createServer();
        await new Promise((resolve) => taken.listen(0, host, resolve));
        // Until its handle is gone (after 'close'), so the next test counts no listener of ours.
        t.teardown(async () => {
          taken.close();
          await until(() => nodeListeners() === 0, 2_000);
        });
        const { port } = taken.address();
        const fw = create(backend, makeGate());
        const err = await t.throwsAsync(within(fw.start(port), 10_000, 'start'));
        t.is(err.code, 'EADDRINUSE');
        t.is(err.errno, -98);
        t.is(err.syscall, 'listen');
        t.is(err.port, port);
        t.is(err.address, host);
        t.regex(err.message, /^listen EADDRINUSE: address already in use 127\.0\.0\.1:\d+$/);
        t.false(fw.server.listening);
        await fw.stop().catch(() => {});
      },
    );
  }

  test.serial(
    `${backend}: node:net's listen on a ZerosockHttpServer is refused with ERR_ZEROSOCK_NODE_LISTENER`,
    async (t) => {
      const before = nodeListeners();
      const calls = [
        (s) => net.Server.prototype.listen.call(s, 0),
        (s) => http.Server.prototype.listen.call(s, 0, host),
        (s) => net.Server.prototype.listen.call(s, { port: 0, host, exclusive: true }),
      ];
      for (const call of calls) {
        const s = new ZerosockHttpServer(() => {}, { backend });
        const error = new Promise((resolve) => s.once('error', resolve));
        call(s);
        const err = await within(error, 5_000, 'the error');
        t.is(err.code, 'ERR_ZEROSOCK_NODE_LISTENER');
        t.regex(err.message, /served by zerosock/);
        t.false(s.listening);
        t.is(s.address(), null);
        t.is(s._handle, null);
      }
      t.is(nodeListeners(), before, 'no node:net listener was opened');
    },
  );

  test.serial(
    `${backend}: in a cluster worker, node:net's listen is refused before the primary binds for it`,
    async (t) => {
      const peer = fileURLToPath(new URL('./peers/cluster-listen.mjs', import.meta.url));
      const out = await new Promise((resolve, reject) =>
        execFile(process.execPath, [peer, backend], { timeout: 20_000 }, (err, stdout) =>
          err ? reject(err) : resolve(JSON.parse(stdout.trim().split('\n').pop())),
        ),
      );
      t.is(out.thrown, 'ERR_ZEROSOCK_NODE_LISTENER', 'thrown in the worker, before the query');
      t.is(out.emitted, 'ERR_ZEROSOCK_NODE_LISTENER', 'an exclusive listen is refused too');
      t.false(out.listening);
      t.is(out.primaryListeners, 0, 'the primary opened no node:net listener');
      t.is(out.clusterListening, 0);
    },
  );

  test.serial(
    `${backend}: listen() takes node:net's forms and calls back on 'listening'`,
    async (t) => {
      const forms = [
        ['listen(port, host, cb)', (s, cb) => s.listen(0, host, cb)],
        ['listen(port, host, backlog, cb)', (s, cb) => s.listen(0, host, 64, cb)],
        ['listen(options, cb)', (s, cb) => s.listen({ port: 0, host, backlog: 16 }, cb)],
        ['listen("0", host, cb)', (s, cb) => s.listen('0', host, cb)],
        ['listen(port, null, cb) (hapi)', (s, cb) => s.listen(0, null, cb)],
        ['listen(port, cb)', (s, cb) => s.listen(0, cb)],
        ['listen(cb)', (s, cb) => s.listen(cb)],
        ['listen() + "listening"', (s, cb) => s.once('listening', cb).listen()],
      ];
      for (const [form, listen] of forms) {
        const s = new ZerosockHttpServer((req, res) => res.end(form), { backend });
        let events = 0;
        s.on('listening', () => events++);
        await within(new Promise((resolve) => listen(s, resolve)), 5_000, form);
        t.true(s.listening, form);
        t.is(events, 1, `${form}: one 'listening'`);
        const { port } = s.address();
        t.true(port > 0, form);
        t.deepEqual(await get(port), { status: 200, body: form });
        const err = await new Promise((resolve) => s.close(resolve));
        t.is(err, undefined, `${form}: close(cb) without an error`);
        t.false(s.listening);
        t.is(s.address(), null);
      }
    },
  );

  test.serial(`${backend}: close(cb), 'close', listen again, getConnections, signal`, async (t) => {
    const s = new ZerosockHttpServer((req, res) => res.end('x'), { backend });
    // Not listening: node:net's ERR_SERVER_NOT_RUNNING, and 'close' still comes.
    const closeEvent = new Promise((resolve) => s.once('close', resolve));
    const notRunning = await new Promise((resolve) => s.close(resolve));
    t.is(notRunning.code, 'ERR_SERVER_NOT_RUNNING');
    await within(closeEvent, 1_000, "'close'");

    await new Promise((resolve) => s.listen(0, host, resolve));
    t.throws(() => s.listen(0, host), { code: 'ERR_SERVER_ALREADY_LISTEN' });
    const first = s.zerosock;
    const agent = new http.Agent({ keepAlive: true });
    await get(s.address().port, '/', agent);
    t.is(await new Promise((resolve) => s.getConnections((e, n) => resolve(n))), 1);
    await new Promise((resolve) => s.close(resolve)); // the idle keep-alive one is closed
    agent.destroy();
    await new Promise((resolve) => s.listen(0, host, resolve));
    t.not(s.zerosock, first, 'a new zerosock listener');
    t.is((await get(s.address().port)).status, 200);

    const ac = new AbortController();
    const closedByAbort = new Promise((resolve) => s.once('close', resolve));
    s.close();
    await closedByAbort;
    await new Promise((resolve) => s.listen({ port: 0, host, signal: ac.signal }, resolve));
    const closed = new Promise((resolve) => s.once('close', resolve));
    ac.abort();
    await within(closed, 5_000, 'close on abort');
    t.false(s.listening);

    const aborted = new ZerosockHttpServer(() => {}, { backend });
    let listened = false;
    aborted.on('listening', () => (listened = true));
    const abortedClose = new Promise((resolve) => aborted.once('close', resolve));
    aborted.listen({ port: 0, host, signal: AbortSignal.abort() });
    await within(abortedClose, 5_000, 'close of a pre-aborted listen');
    t.false(listened);
    t.false(aborted.listening);
  });

  test.serial(
    `${backend}: listen({ path }) goes to zerosock, never to a node:net pipe`,
    async (t) => {
      const s = new ZerosockHttpServer((req, res) => res.end('unix'), { backend });
      const before = nodeListeners();
      const path = `/tmp/zerosock-frameworks-${process.pid}-${backend}.sock`;
      await within(
        new Promise((resolve, reject) => {
          s.once('error', reject);
          s.listen({ path }, resolve);
        }),
        5_000,
        'listen({ path })',
      );
      t.is(s._handle, null, 'no node handle');
      t.is(nodeListeners(), before);
      t.true(s.zerosock.listening);
      t.is(s.address(), path);
      const body = await new Promise((resolve, reject) => {
        http
          .get({ socketPath: path, path: '/' }, (res) => {
            let b = '';
            res.on('data', (d) => (b += d));
            res.on('end', () => resolve(b));
          })
          .on('error', reject);
      });
      t.is(body, 'unix');
      t.is(s.zerosock.address(), path, 'the listener answering is zerosock');
      await new Promise((resolve) => s.close(resolve));
      t.false(existsSync(path), 'close() removes the socket file');
    },
  );
}

test.serial('every listen and server option key is checked', async (t) => {
  const s = new ZerosockHttpServer(() => {});
  const bad = { code: 'ERR_INVALID_ARG_VALUE' };
  t.throws(() => s.listen({ port: 0, bogus: 1 }), { ...bad, message: /"bogus"/ });
  t.throws(() => s.listen({ port: 0, ipv6Only: true }), { ...bad, message: /ipv6Only/ });
  t.throws(() => s.listen({ port: 0, fd: 3 }), { ...bad, message: /fd/ });
  t.throws(() => s.listen({ host }), { ...bad, message: /"port" or "path"/ });
  t.throws(() => s.listen(70_000), { code: 'ERR_OUT_OF_RANGE' });
  t.false(s.listening);
  t.throws(() => new ZerosockHttpServer(() => {}, { bogus: 1 }), { ...bad, message: /"bogus"/ });
  t.throws(() => createHttpServer(() => {}, { http: { keepAliveTimout: 1 } }), {
    ...bad,
    message: /"keepAliveTimout"/,
  });
  t.throws(() => createHttpServer(() => {}, { http: { keepAlive: true } }), {
    ...bad,
    message: /http\.keepAlive/,
  });
  t.notThrows(() => createHttpServer(() => {}, { http: { keepAliveTimeout: 1, noDelay: true } }));
  t.throws(() => fastifyServerFactory({ bogus: 1 }), { ...bad, message: /"bogus"/ });
  t.throws(() => fastifyServerFactory()(() => {}, { https: {} }), {
    code: 'ERR_ZEROSOCK_INVALID_ARGUMENT',
  });
  // Through fastify: its listen() rejects with the same error.
  const app = Fastify({ serverFactory: fastifyServerFactory() });
  await t.throwsAsync(app.listen({ port: 0, host, bogus: 1 }), { ...bad, message: /"bogus"/ });
  await app.close();
});

test.serial('fastifyServerFactory applies fastify’s own server options', async (t) => {
  const app = Fastify({
    serverFactory: fastifyServerFactory(),
    keepAliveTimeout: 1234,
    requestTimeout: 4321,
    connectionTimeout: 999,
    maxRequestsPerSocket: 7,
  });
  t.is(app.server.keepAliveTimeout, 1234);
  t.is(app.server.requestTimeout, 4321);
  t.is(app.server.timeout, 999);
  t.is(app.server.maxRequestsPerSocket, 7);
  await app.close();
});

test.serial('unref() lets the process exit while listening; ref() keeps it', async (t) => {
  const run = (calls) =>
    new Promise((resolve) => {
      const program = `import { ZerosockHttpServer } from 'zerosock';
        const s = new ZerosockHttpServer(() => {});
        s.listen(0, '127.0.0.1', () => { ${calls} });`;
      const child = spawn(process.execPath, ['--input-type=module', '-e', program], {
        cwd: fileURLToPath(new URL('..', import.meta.url)),
        stdio: 'inherit',
      });
      const timer = setTimeout(() => {
        child.kill();
        resolve('still running');
      }, 3_000);
      child.on('exit', (code) => {
        clearTimeout(timer);
        resolve(`exited ${code}`);
      });
    });
  t.is(await run('s.unref();'), 'exited 0');
  t.is(await run('s.unref(); s.ref();'), 'still running');
});
