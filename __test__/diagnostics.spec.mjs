// diagnostics_channel: what a subscriber (an APM tool) sees on zerosock's channels over real
// sockets on 127.0.0.1 — the client and server socket channels, the listen and connect traces
// (success, EADDRINUSE, ECONNREFUSED), a node:net client in another process — and that nothing
// is published while nobody subscribes. The channels are process-wide, so the tests run
// serially.
import test from 'ava';
import dc from 'node:diagnostics_channel';
import { execFile } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { connect, createServer, DIAGNOSTICS_CHANNELS, Socket } from 'zerosock';
import { backends, once, until, within } from './helpers.mjs';

const CLIENT = fileURLToPath(new URL('./peers/client.mjs', import.meta.url));
const TRACE_EVENTS = ['start', 'end', 'asyncStart', 'asyncEnd', 'error'];

/** Subscribes to channel `name` until the test ends; returns the messages it got. */
function record(t, name, map = (m) => m) {
  const got = [];
  const onMessage = (message) => got.push(map(message));
  dc.subscribe(name, onMessage);
  t.teardown(() => dc.unsubscribe(name, onMessage));
  return got;
}

/** Subscribes to the tracing channel `name` until the test ends; returns `[event, context]`s. */
function recordTrace(t, name, handlers = {}) {
  const got = [];
  const subscribers = Object.fromEntries(
    TRACE_EVENTS.map((event) => [
      event,
      (ctx) => {
        got.push([event, ctx]);
        handlers[event]?.(ctx);
      },
    ]),
  );
  const trace = dc.tracingChannel(name);
  trace.subscribe(subscribers);
  t.teardown(() => trace.unsubscribe(subscribers));
  return got;
}

/** A zerosock echo server on 127.0.0.1 that ends after the peer's FIN; records 'connection's. */
async function echoServer(t, backend) {
  const accepted = [];
  const server = createServer({ backend }, (sock) => {
    accepted.push(sock);
    sock.on('data', (v) => sock.send(v));
    sock.on('end', () => sock.end());
  });
  await server.listen({ port: 0, host: '127.0.0.1' });
  t.teardown(() => server.close());
  return { server, accepted, port: server.address().port };
}

/** A port nothing listens on (bound by node:net, then closed). */
async function closedPort() {
  const probe = net.createServer();
  await new Promise((r) => probe.listen(0, '127.0.0.1', r));
  const port = probe.address().port;
  await new Promise((r) => probe.close(r));
  return port;
}

/** One zerosock round trip on a fresh connection; resolves once it closed. */
async function roundTrip(port, backend) {
  const c = await connect({ port, host: '127.0.0.1', backend });
  const localPort = c.localPort; // gone once closed
  const closed = once(c, 'close');
  c.resume(); // the echo flows (and is dropped), so the server's FIN is seen
  c.end('hi');
  await within(closed, 10_000, 'client close');
  return { socket: c, localPort };
}

for (const backend of backends) {
  test.serial(
    `${backend}: zerosock.client.socket fires once per connect() with its Socket`,
    async (t) => {
      const { port } = await echoServer(t, backend);
      const got = record(t, DIAGNOSTICS_CHANNELS.clientSocket);
      const clients = [];
      for (let i = 0; i < 3; i++) clients.push(await roundTrip(port, backend));
      t.is(got.length, 3);
      got.forEach(({ socket }, i) => {
        t.true(socket instanceof Socket);
        t.is(socket, clients[i].socket, `message ${i} carries the socket connect() resolved with`);
        t.is(socket.backend, backend);
      });
      // Like net.client.socket, a socket whose connect then fails was published too.
      const refused = await closedPort();
      await t.throwsAsync(connect({ port: refused, host: '127.0.0.1', backend }), {
        code: 'ECONNREFUSED',
      });
      t.is(got.length, 4);
      t.true(got[3].socket instanceof Socket);
    },
  );

  test.serial(
    `${backend}: zerosock.server.socket fires once per accepted connection`,
    async (t) => {
      const { server, accepted, port } = await echoServer(t, backend);
      const got = record(t, DIAGNOSTICS_CHANNELS.serverSocket, (m) => ({
        ...m,
        // after 'connection', like net.server.socket: the listener has it already
        emitted: accepted.includes(m.socket),
        remotePort: m.socket.remotePort,
      }));
      const clients = [];
      for (let i = 0; i < 3; i++) clients.push(await roundTrip(port, backend));
      await until(() => got.length >= 3 && server.connectionCount === 0, 10_000);
      t.is(got.length, 3);
      t.is(accepted.length, 3);
      got.forEach((m, i) => {
        t.true(m.socket instanceof Socket);
        t.is(m.socket, accepted[i]);
        t.is(m.server, server);
        t.true(m.emitted, `message ${i} after 'connection'`);
        t.is(m.remotePort, clients[i].localPort);
      });
    },
  );

  test.serial(
    `${backend}: zerosock.server.socket fires for a node:net client in another process`,
    async (t) => {
      const { server, port } = await echoServer(t, backend);
      const got = record(t, DIAGNOSTICS_CHANNELS.serverSocket, (m) => ({
        server: m.server,
        remotePort: m.socket.remotePort,
      }));
      const { stdout } = await promisify(execFile)(process.execPath, [CLIENT, String(port), '3'], {
        timeout: 30_000,
      });
      const { localPorts } = JSON.parse(stdout);
      t.is(localPorts.length, 3);
      await until(() => got.length >= 3, 10_000);
      t.is(got.length, 3);
      t.deepEqual(
        got.map((m) => m.remotePort),
        localPorts,
        "one message per connection of the child, each with that connection's socket",
      );
      t.true(got.every((m) => m.server === server));
    },
  );

  test.serial(
    `${backend}: zerosock.server.listen traces a listen() from start to asyncEnd`,
    async (t) => {
      const server = createServer({ backend });
      t.teardown(() => server.close());
      const seen = {};
      const got = recordTrace(t, DIAGNOSTICS_CHANNELS.listen, {
        start: (ctx) => (seen.start = { listening: ctx.server.listening }),
        asyncEnd: (ctx) => (seen.asyncEnd = { address: ctx.server.address() }),
      });
      const options = { port: 0, host: '127.0.0.1', backlog: 64 };
      const result = await server.listen(options);
      const mine = got.filter(([, ctx]) => ctx.server === server);
      t.deepEqual(
        mine.map(([event]) => event),
        ['start', 'end', 'asyncStart', 'asyncEnd'],
      );
      const ctx = mine[0][1];
      t.true(
        mine.every(([, c]) => c === ctx),
        'one context object through the trace',
      );
      t.is(ctx.server, server);
      t.is(ctx.options, options, 'the options listen() was given');
      t.is(ctx.result, result);
      t.is(ctx.error, undefined);
      t.false(seen.start.listening, 'start comes before the bind');
      t.deepEqual(seen.asyncEnd.address, server.address(), 'asyncEnd: bound, with its address');
      t.is(seen.asyncEnd.address.port, server.address().port);
    },
  );

  test.serial(`${backend}: listen(port, host) traces { port, host } as its options`, async (t) => {
    const server = createServer({ backend });
    t.teardown(() => server.close());
    const got = recordTrace(t, DIAGNOSTICS_CHANNELS.listen);
    await server.listen(0, '127.0.0.1');
    const [event, ctx] = got.find(([, c]) => c.server === server);
    t.is(event, 'start');
    t.deepEqual(ctx.options, { port: 0, host: '127.0.0.1' });
  });

  test.serial(`${backend}: zerosock.server.listen error carries EADDRINUSE`, async (t) => {
    const { port } = await echoServer(t, backend);
    const second = createServer({ backend });
    const got = recordTrace(t, DIAGNOSTICS_CHANNELS.listen);
    const err = await t.throwsAsync(second.listen({ port, host: '127.0.0.1' }));
    t.is(err.code, 'EADDRINUSE');
    const mine = got.filter(([, ctx]) => ctx.server === second);
    t.deepEqual(
      mine.map(([event]) => event),
      ['start', 'end', 'error', 'asyncStart', 'asyncEnd'],
    );
    const ctx = mine.find(([event]) => event === 'error')[1];
    t.is(ctx.error, err, 'the error listen() rejected with');
    t.is(ctx.error.code, 'EADDRINUSE');
    t.is(ctx.error.syscall, 'listen');
    t.is(ctx.error.port, port);
    t.is(ctx.result, undefined);
    t.false(second.listening);
  });

  test.serial(`${backend}: zerosock.connect traces a connect() to its socket`, async (t) => {
    const { port } = await echoServer(t, backend);
    const got = recordTrace(t, DIAGNOSTICS_CHANNELS.connect);
    const options = { port, host: '127.0.0.1', backend };
    const c = await connect(options);
    t.teardown(() => c.destroy());
    const mine = got.filter(([, ctx]) => ctx.options === options);
    t.deepEqual(
      mine.map(([event]) => event),
      ['start', 'end', 'asyncStart', 'asyncEnd'],
    );
    const ctx = mine[0][1];
    t.true(mine.every(([, x]) => x === ctx));
    t.is(ctx.result, c);
    t.is(ctx.error, undefined);
  });

  test.serial(`${backend}: zerosock.connect error carries ECONNREFUSED`, async (t) => {
    const port = await closedPort();
    const got = recordTrace(t, DIAGNOSTICS_CHANNELS.connect);
    const options = { port, host: '127.0.0.1', backend };
    const err = await t.throwsAsync(connect(options));
    t.is(err.code, 'ECONNREFUSED');
    const mine = got.filter(([, ctx]) => ctx.options === options);
    t.deepEqual(
      mine.map(([event]) => event),
      ['start', 'end', 'error', 'asyncStart', 'asyncEnd'],
    );
    const ctx = mine[2][1];
    t.is(ctx.error, err, 'the error connect() rejected with');
    t.is(ctx.error.code, 'ECONNREFUSED');
    t.is(ctx.error.syscall, 'connect');
    t.is(ctx.error.errno, -111);
    t.is(ctx.error.port, port);
    t.is(ctx.result, undefined);
  });

  test.serial(`${backend}: nothing is published while nobody subscribes`, async (t) => {
    // An unsubscribed channel has node's inactive prototype; a publish on it lands here.
    const calls = [];
    const proto = dc.Channel.prototype;
    const { publish, runStores } = proto;
    const ours = (ch) => String(ch.name).includes('zerosock.');
    proto.publish = function (...args) {
      if (ours(this)) calls.push(`publish ${String(this.name)}`);
      return publish.apply(this, args);
    };
    proto.runStores = function (...args) {
      if (ours(this)) calls.push(`runStores ${String(this.name)}`);
      return runStores.apply(this, args);
    };
    t.teardown(() => Object.assign(proto, { publish, runStores }));
    const names = Object.values(DIAGNOSTICS_CHANNELS);
    for (const name of names) t.false(dc.hasSubscribers(name), `${name}: no subscriber`);
    for (const name of names.slice(2)) t.false(dc.tracingChannel(name).start.hasSubscribers);

    const { server, port } = await echoServer(t, backend);
    for (let i = 0; i < 3; i++) await roundTrip(port, backend);
    await t.throwsAsync(createServer({ backend }).listen({ port, host: '127.0.0.1' }));
    await t.throwsAsync(connect({ port: await closedPort(), host: '127.0.0.1', backend }));
    await until(() => server.connectionCount === 0, 10_000);
    t.deepEqual(calls, [], 'listen, accept, connect and their errors published nothing');

    // The spy sees a publish on an unsubscribed zerosock channel (so the check above can fail).
    dc.channel(DIAGNOSTICS_CHANNELS.serverSocket).publish({});
    t.deepEqual(calls, [`publish ${DIAGNOSTICS_CHANNELS.serverSocket}`]);
  });
}

test.serial(
  'the traces are the plain channels tracing:<name>:<event>, as node names them',
  async (t) => {
    t.deepEqual(DIAGNOSTICS_CHANNELS, {
      clientSocket: 'zerosock.client.socket',
      serverSocket: 'zerosock.server.socket',
      listen: 'zerosock.server.listen',
      connect: 'zerosock.connect',
    });
    const errors = record(t, 'tracing:zerosock.connect:error');
    const starts = record(t, 'tracing:zerosock.server.listen:start');
    const server = createServer({ backend: backends[0] });
    t.teardown(() => server.close());
    await server.listen({ port: 0, host: '127.0.0.1' });
    t.is(starts.length, 1);
    t.is(starts[0].server, server);
    const err = await t.throwsAsync(
      connect({ port: await closedPort(), host: '127.0.0.1', backend: backends[0] }),
    );
    t.is(errors.length, 1);
    t.is(errors[0].error, err);
  },
);
