// API fuzzing: fast-check runs random sequences of public API calls against a model — connect,
// send of random types and sizes (valid and invalid), sendZeroCopy, flush, retain/release,
// pause/resume, end, destroy (also from inside 'data'/'drain' callbacks, timers, immediates,
// ticks and promises), server close, BufferPool acquire/release, SpscRing push/pop —
// and checks that every result matches the model, every misuse throws a typed error (a
// ZerosockError with its code), retained and lent memory is never recycled under us, and
// at the end every byte came back in order, every promise settled and nothing leaked. The echo
// peer is a zerosock server in this process, and a node:net one in a child process.
//
// CI runs a fixed seed. A longer run: ZEROSOCK_FUZZ_SEED=<n> ZEROSOCK_FUZZ_RUNS=500 npx ava
// __test__/fuzz-api.spec.mjs (ZEROSOCK_FUZZ_SHRINK=1 to shrink a failure; slow with sockets).
import test from 'ava';
import fc from 'fast-check';
import { BufferPool, connect, createServer, SpscRing, stats, ZerosockError } from 'zerosock';
import { backends, fdCount, until, within } from './helpers.mjs';
import { envInt, settleAll, warmUp } from './faults-helpers.mjs';
import { startEcho } from './peers/echo.mjs';

const SEED = envInt('ZEROSOCK_FUZZ_SEED', 20251125);
const RUNS = envInt('ZEROSOCK_FUZZ_RUNS', 100);
const MAX_COMMANDS = envInt('ZEROSOCK_FUZZ_COMMANDS', 60);
const TIME_LIMIT = envInt('ZEROSOCK_FUZZ_TIME_MS', 60_000);
const MAX_CONNS = 6;
const POOL_SIZE = 4096;
const POOL_MAX = 12;
const RING_CAPACITY = 1024;

/** Fails the property with a message (fast-check reports it with the command sequence). */
function check(cond, message) {
  if (!cond) throw new Error(message);
}

/** `fn()` must throw a typed error whose code is one of `codes`. */
function throwsTyped(fn, codes, what) {
  let err = null;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  check(err !== null, `${what}: expected ${codes.join('|')}, nothing was thrown`);
  check(
    err instanceof ZerosockError,
    `${what}: untyped ${err?.constructor?.name}: ${err?.message}`,
  );
  check(
    codes.includes(err.code),
    `${what}: ${err.code} (${err.message}), expected ${codes.join('|')}`,
  );
  return err;
}

/** Deterministic bytes for a payload. */
function bytes(n, seed) {
  const b = Buffer.allocUnsafe(n);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x;
  }
  return b;
}

// ---------------------------------------------------------------- payload arbitraries
const size = fc.oneof(
  fc.integer({ min: 0, max: 64 }),
  fc.integer({ min: 0, max: 4096 }),
  fc.constantFrom(16 * 1024 - 1, 16 * 1024, 64 * 1024 - 1, 64 * 1024, 64 * 1024 + 1),
  fc.integer({ min: 0, max: 200_000 }),
);
const validPayload = fc.oneof(
  fc.record({ kind: fc.constant('u8'), size, seed: fc.nat() }),
  fc.record({ kind: fc.constant('buffer'), size, seed: fc.nat() }),
  fc.record({ kind: fc.constant('subarray'), size, seed: fc.nat(), skip: fc.nat({ max: 100 }) }),
  fc.record({ kind: fc.constant('string'), text: fc.string({ unit: 'binary', maxLength: 3000 }) }),
  fc.record({ kind: fc.constant('ascii'), text: fc.string({ maxLength: 20_000 }) }),
);
const invalidPayload = fc.constantFrom(
  42,
  null,
  undefined,
  true,
  {},
  [1, 2, 3],
  'dataview',
  'arraybuffer',
  'uint16array',
  Symbol.for('x'),
);
const payload = fc.oneof(
  { arbitrary: validPayload, weight: 5 },
  { arbitrary: invalidPayload.map((v) => ({ kind: 'invalid', v })), weight: 1 },
);

/** Materialises a payload: `{ value, expect }` (expected bytes, or null if invalid). */
function makePayload(p) {
  switch (p.kind) {
    case 'u8':
      return { value: new Uint8Array(bytes(p.size, p.seed)), expect: bytes(p.size, p.seed) };
    case 'buffer':
      return { value: bytes(p.size, p.seed), expect: bytes(p.size, p.seed) };
    case 'subarray': {
      const big = bytes(p.size + p.skip * 2, p.seed);
      const view = big.subarray(p.skip, p.skip + p.size);
      return { value: view, expect: Buffer.from(view) };
    }
    case 'string':
    case 'ascii':
      return { value: p.text, expect: Buffer.from(p.text, 'utf8') };
    default: {
      const v = p.v;
      const value =
        v === 'dataview'
          ? new DataView(new ArrayBuffer(8))
          : v === 'arraybuffer'
            ? new ArrayBuffer(8)
            : v === 'uint16array'
              ? new Uint16Array(4)
              : v;
      return { value, expect: null };
    }
  }
}

const describe = (p) =>
  p.kind === 'invalid'
    ? `invalid(${String(p.v)})`
    : p.text !== undefined
      ? `${p.kind}(${p.text.length} chars)`
      : `${p.kind}(${p.size})`;

// ---------------------------------------------------------------- the real system and model
/**
 * The echo peer: a zerosock server in this process, or (`child`) a node:net one in another
 * process; `{ port, close(), closeAll() }` either way.
 */
async function echoPeer(backend, where, child) {
  if (where === 'child') return child;
  const server = createServer({ backend }, (s) => {
    s.on('data', (v) => s.send(v));
    s.on('end', () => s.end());
    s.on('error', () => {});
  });
  await server.listen({ port: 0, host: '127.0.0.1' });
  let closing = null;
  return {
    port: server.address().port,
    close: async () => {
      closing = server.close();
      await until(() => !server.listening, 5000);
    },
    closeAll: async () => {
      server.closeAllConnections();
      await within(closing ?? server.close(), 20_000, 'server.close');
    },
  };
}

async function setupReal(backend, where, child) {
  const peer = await echoPeer(backend, where, child);
  return {
    backend,
    peer,
    port: peer.port,
    later: [],
    conns: [],
    zc: [],
    pool: new BufferPool({ size: POOL_SIZE, count: 4, maxCount: POOL_MAX }),
    lent: [],
    ring: new SpscRing(RING_CAPACITY),
    unexpected: [],
    executed: 0,
  };
}

function initModel() {
  return { serverOpen: true, conns: [], lent: 0, ring: { head: 0, tail: 0, queue: [] } };
}

/** A connection's state in the real world (the model keeps only what it expects). */
function track(real, sock) {
  const c = {
    sock,
    received: [],
    receivedBytes: 0,
    retained: [],
    retainNext: false,
    stale: null,
    closed: null,
    error: null,
  };
  c.closed = new Promise((resolve) => sock.once('close', resolve));
  sock.on('error', (err) => {
    c.error = err;
    real.unexpected.push(`socket error ${err.code}: ${err.message}`);
  });
  sock.on('data', (view) => {
    c.received.push(Buffer.from(view));
    c.receivedBytes += view.byteLength;
    if (c.retainNext) {
      c.retainNext = false;
      c.retained.push({ view: sock.retain(view), copy: Buffer.from(view) });
    } else {
      c.stale = view; // after this callback it must be unusable
    }
  });
  return c;
}

// ---------------------------------------------------------------- commands
/** Counts what really ran (fast-check skips commands whose check() is false). */
class Command {
  run(m, r) {
    r.executed++;
    return this.exec(m, r);
  }
}

const pick = (list, i) => list[i % list.length];

/** A command on open connection #i (modulo their number), with its other arguments. */
class ConnCommand extends Command {
  constructor(i, args = {}) {
    super();
    this.i = i;
    Object.assign(this, args);
  }
  check(m) {
    return m.conns.length > 0;
  }
}

class Connect extends Command {
  check(m) {
    return m.conns.length < MAX_CONNS;
  }
  async exec(m, r) {
    if (m.serverOpen) {
      const sock = await connect({ port: r.port, host: '127.0.0.1', backend: r.backend });
      check(sock.backend === r.backend, `connected on ${sock.backend}`);
      r.conns.push(track(r, sock));
      m.conns.push({ state: 'open', expect: [], expectBytes: 0, paused: false });
    } else {
      const err = await connect({ port: r.port, host: '127.0.0.1', backend: r.backend }).then(
        () => null,
        (e) => e,
      );
      check(err?.code === 'ECONNREFUSED', `connect after close: ${err?.code ?? 'connected'}`);
      check(err.syscall === 'connect' && err.errno === -111, 'a Node-style ECONNREFUSED');
    }
  }
  toString() {
    return 'connect';
  }
}

class Send extends ConnCommand {
  exec(m, r) {
    const mc = pick(m.conns, this.i);
    const rc = pick(r.conns, this.i);
    const { value, expect } = makePayload(this.p);
    if (mc.state !== 'open') {
      throwsTyped(
        () => rc.sock.send(value),
        ['ERR_ZEROSOCK_SOCKET_CLOSED'],
        'send on a closed socket',
      );
    } else if (expect === null) {
      throwsTyped(() => rc.sock.send(value), ['ERR_INVALID_ARG_TYPE'], `send(${describe(this.p)})`);
    } else {
      const s = rc.sock;
      check(
        !s.destroyed && !s.writableEnded,
        `send(#${this.i}): the model has it open; destroyed ${s.destroyed}, ended ${s.writableEnded}, readableEnded ${s.readableEnded}, error ${rc.error?.code}`,
      );
      const ret = rc.sock.send(value);
      check(typeof ret === 'boolean', `send returned ${typeof ret}`);
      mc.expect.push(expect);
      mc.expectBytes += expect.length;
    }
  }
  toString() {
    return `send(#${this.i}, ${describe(this.p)})`;
  }
}

class SendZeroCopy extends ConnCommand {
  exec(m, r) {
    const mc = pick(m.conns, this.i);
    const rc = pick(r.conns, this.i);
    if (typeof rc.sock.sendZeroCopy !== 'function') return;
    const { value, expect } = makePayload(this.p);
    const bad = expect === null || typeof value === 'string';
    if (mc.state !== 'open' || bad) {
      // Both misuses at once: either code is a right answer.
      const codes = [];
      if (mc.state !== 'open') codes.push('ERR_ZEROSOCK_SOCKET_CLOSED');
      if (bad) codes.push('ERR_INVALID_ARG_TYPE');
      throwsTyped(() => rc.sock.sendZeroCopy(value), codes, `sendZeroCopy(${describe(this.p)})`);
      return;
    }
    const promise = rc.sock.sendZeroCopy(value);
    check(promise instanceof Promise, 'sendZeroCopy returns a promise');
    r.zc.push({ promise, bytes: expect.length });
    mc.expect.push(expect);
    mc.expectBytes += expect.length;
  }
  toString() {
    return `sendZeroCopy(#${this.i}, ${describe(this.p)})`;
  }
}

class Flush extends ConnCommand {
  exec(m, r) {
    pick(r.conns, this.i).sock.flush(); // never throws, even when closed
  }
  toString() {
    return `flush(#${this.i})`;
  }
}

class Tick extends Command {
  constructor(ms) {
    super();
    this.ms = ms;
  }
  check() {
    return true;
  }
  async exec() {
    await new Promise((resolve) => setTimeout(resolve, this.ms));
  }
  toString() {
    return `tick(${this.ms} ms)`;
  }
}

class RetainNext extends ConnCommand {
  exec(m, r) {
    pick(r.conns, this.i).retainNext = true;
  }
  toString() {
    return `retainNext(#${this.i})`;
  }
}

class Release extends ConnCommand {
  exec(m, r) {
    const rc = pick(r.conns, this.i);
    const sock = rc.sock;
    const codes = ['ERR_ZEROSOCK_BUFFER_RELEASED'];
    if (this.mode === 'retained' && rc.retained.length > 0) {
      const { view, copy } = rc.retained.shift();
      check(
        Buffer.compare(Buffer.from(view), copy) === 0,
        'a retained view changed before release',
      );
      sock.release(view);
      throwsTyped(() => sock.release(view), codes, 'double release');
    } else if (this.mode === 'stale' && rc.stale !== null) {
      throwsTyped(() => sock.retain(rc.stale), codes, 'retain after the callback');
      throwsTyped(() => sock.release(rc.stale), codes, 'release of a view never retained');
    } else {
      throwsTyped(() => sock.release(new Uint8Array(8)), codes, 'release of a foreign view');
      throwsTyped(() => sock.retain(new Uint8Array(8)), codes, 'retain of a foreign view');
    }
  }
  toString() {
    return `release(#${this.i}, ${this.mode})`;
  }
}

class PauseResume extends ConnCommand {
  exec(m, r) {
    const mc = pick(m.conns, this.i);
    const sock = pick(r.conns, this.i).sock;
    if (this.pause) sock.pause();
    else sock.resume();
    mc.paused = this.pause;
  }
  toString() {
    return `${this.pause ? 'pause' : 'resume'}(#${this.i})`;
  }
}

class End extends ConnCommand {
  exec(m, r) {
    const mc = pick(m.conns, this.i);
    const rc = pick(r.conns, this.i);
    if (this.withData && mc.state === 'open') {
      const last = Buffer.from(`last words ${this.i}`);
      rc.sock.end(last);
      mc.expect.push(last);
      mc.expectBytes += last.length;
    } else {
      rc.sock.end(); // idempotent, never throws
    }
    if (mc.state === 'open') mc.state = 'ended';
    check(rc.sock.writableEnded, 'writableEnded after end()');
  }
  toString() {
    return `end(#${this.i}${this.withData ? ', data' : ''})`;
  }
}

class Destroy extends ConnCommand {
  exec(m, r) {
    const mc = pick(m.conns, this.i);
    pick(r.conns, this.i).sock.destroy();
    mc.state = 'destroyed';
  }
  toString() {
    return `destroy(#${this.i})`;
  }
}

/** Where a {@link Later} runs its command: places user code runs, on the connection or not. */
const LATER_SITES = ['data', 'drain', 'setImmediate', 'nextTick', 'setTimeout', 'promise'];

/**
 * Runs a send, end or destroy from inside a callback: the connection's next 'data' or 'drain',
 * a timer, an immediate, a tick or a promise. The model is asked when it runs (the inner
 * command checks the state then); whatever has not run when the sequence ends runs first in
 * finish().
 */
class Later extends ConnCommand {
  exec(m, r) {
    // Connections only grow: the index they have now names the same one when this runs.
    const i = this.i % r.conns.length;
    const inner = Object.assign(Object.create(Object.getPrototypeOf(this.inner)), this.inner, {
      i,
    });
    const sock = r.conns[i].sock;
    const entry = { ran: false, cancel: () => {} };
    const run = () => {
      if (entry.ran) return;
      entry.ran = true;
      entry.cancel();
      try {
        inner.exec(m, r);
      } catch (err) {
        r.unexpected.push(`${this} from its callback: ${err.message}`);
      }
    };
    entry.run = run;
    r.later.push(entry);
    switch (this.site) {
      case 'data':
      case 'drain':
        sock.once(this.site, run);
        entry.cancel = () => sock.off(this.site, run);
        break;
      case 'setImmediate':
        setImmediate(run);
        break;
      case 'nextTick':
        process.nextTick(run);
        break;
      case 'setTimeout':
        setTimeout(run, 1);
        break;
      default:
        Promise.resolve().then(run);
    }
  }
  toString() {
    return `${this.site} -> ${this.inner}`;
  }
}

class CloseServer extends Command {
  check(m) {
    return m.serverOpen;
  }
  async exec(m, r) {
    await r.peer.close(r.conns.length);
    m.serverOpen = false;
  }
  toString() {
    return 'server.close()';
  }
}

class PoolAcquire extends Command {
  check() {
    return true;
  }
  exec(m, r) {
    if (m.lent === POOL_MAX) {
      throwsTyped(
        () => r.pool.acquire(),
        ['ERR_ZEROSOCK_POOL_EXHAUSTED'],
        'acquire beyond maxCount',
      );
      return;
    }
    const view = r.pool.acquire();
    check(view.byteLength === POOL_SIZE, `pool view of ${view.byteLength} bytes`);
    const fill = (r.lent.length * 37 + 11) & 0xff;
    view.fill(fill);
    // Nobody else's lent buffer changed: no buffer is lent twice.
    for (const l of r.lent)
      check(
        l.view.every((b) => b === l.fill),
        'a lent pool buffer was lent again',
      );
    r.lent.push({ view, fill });
    m.lent++;
  }
  toString() {
    return 'pool.acquire()';
  }
}

class PoolRelease extends Command {
  constructor(i, mode) {
    super();
    this.i = i;
    this.mode = mode;
  }
  check() {
    return true;
  }
  exec(m, r) {
    const misuse = ['ERR_ZEROSOCK_BUFFER_RELEASED', 'ERR_ZEROSOCK_BAD_BUFFER'];
    if (this.mode === 'valid' && r.lent.length > 0) {
      const [l] = r.lent.splice(this.i % r.lent.length, 1);
      check(
        l.view.every((b) => b === l.fill),
        'lent pool memory changed under us',
      );
      r.pool.release(l.view);
      m.lent--;
      throwsTyped(() => r.pool.release(l.view), misuse, 'pool double release');
    } else if (this.mode === 'foreign') {
      throwsTyped(
        () => r.pool.release(new Uint8Array(POOL_SIZE)),
        misuse,
        'pool release of a plain array',
      );
    } else {
      throwsTyped(
        () => r.pool.release(this.i),
        ['ERR_INVALID_ARG_TYPE'],
        'pool release of a number',
      );
    }
  }
  toString() {
    return `pool.release(${this.mode}, ${this.i})`;
  }
}

/** Where a kind-1 message of `len` bytes ends if pushed at `tail` (docs/LAYOUT.md). */
function ringPlace(ring, len) {
  const cap = RING_CAPACITY;
  const total = 4 + ((len + 3) & ~3);
  const off = ring.tail % cap;
  const need = total <= cap - off ? total : cap - off + total;
  return need <= cap - (ring.tail - ring.head) ? ring.tail + need : -1;
}

class RingPush extends Command {
  constructor(len, invalid) {
    super();
    this.len = len;
    this.invalid = invalid;
  }
  check() {
    return true;
  }
  exec(m, r) {
    if (this.invalid) {
      throwsTyped(() => r.ring.push('not bytes'), ['ERR_INVALID_ARG_TYPE'], 'ring.push(string)');
      return;
    }
    const max = RING_CAPACITY / 2 - 4;
    const msg = bytes(this.len, this.len + m.ring.tail);
    if (this.len > max) {
      throwsTyped(
        () => r.ring.push(msg),
        ['ERR_ZEROSOCK_RING_MESSAGE_TOO_LARGE'],
        'ring.push too large',
      );
      return;
    }
    const next = ringPlace(m.ring, this.len);
    const pushed = r.ring.push(msg);
    check(pushed === next >= 0, `ring.push(${this.len}) returned ${pushed}, model ${next >= 0}`);
    if (pushed) {
      m.ring.queue.push({ msg, next });
      m.ring.tail = next;
    }
  }
  toString() {
    return this.invalid ? 'ring.push(invalid)' : `ring.push(${this.len})`;
  }
}

class RingPop extends Command {
  check() {
    return true;
  }
  exec(m, r) {
    const got = r.ring.pop();
    const want = m.ring.queue.shift();
    if (want === undefined) {
      check(got === null, 'ring.pop() returned a message the model does not have');
      return;
    }
    check(
      got !== null && Buffer.compare(Buffer.from(got), want.msg) === 0,
      'ring.pop() message differs',
    );
    m.ring.head = want.next;
  }
  toString() {
    return 'ring.pop()';
  }
}

const conn = fc.nat({ max: 50 });
const commands = [
  fc.constant(new Connect()),
  fc.constant(new Connect()),
  fc.tuple(conn, payload).map(([i, p]) => new Send(i, { p })),
  fc.tuple(conn, payload).map(([i, p]) => new Send(i, { p })),
  fc.tuple(conn, payload).map(([i, p]) => new Send(i, { p })),
  fc.tuple(conn, payload).map(([i, p]) => new SendZeroCopy(i, { p })),
  conn.map((i) => new Flush(i)),
  fc.integer({ min: 0, max: 20 }).map((ms) => new Tick(ms)),
  conn.map((i) => new RetainNext(i)),
  fc
    .tuple(conn, fc.constantFrom('retained', 'stale', 'foreign'))
    .map(([i, mode]) => new Release(i, { mode })),
  fc.tuple(conn, fc.boolean()).map(([i, p]) => new PauseResume(i, { pause: p })),
  fc.tuple(conn, fc.boolean()).map(([i, d]) => new End(i, { withData: d })),
  conn.map((i) => new Destroy(i)),
  fc
    .tuple(conn, fc.constantFrom(...LATER_SITES), payload, fc.nat({ max: 9 }))
    .map(([i, site, p, op]) => {
      const inner =
        op < 7 ? new Send(i, { p }) : op < 9 ? new End(i, { withData: op === 7 }) : new Destroy(i);
      return new Later(i, { site, inner });
    }),
  fc.constant(new CloseServer()),
  fc.constant(new PoolAcquire()),
  fc
    .tuple(fc.nat(), fc.constantFrom('valid', 'valid', 'foreign', 'number'))
    .map(([i, mode]) => new PoolRelease(i, mode)),
  fc
    .oneof(fc.nat({ max: 64 }), fc.nat({ max: RING_CAPACITY }))
    .map((len) => new RingPush(len, false)),
  fc.constant(new RingPush(0, true)),
  fc.constant(new RingPop()),
];

// ---------------------------------------------------------------- end-of-run checks
async function finish(m, r) {
  // Calls still waiting for their callback run now, before the connections end.
  for (const l of r.later) l.run();
  // Let every open or half-closed connection finish: end() it (resume so echoes flow).
  r.conns.forEach((c, i) => {
    c.sock.resume();
    if (m.conns[i].state === 'open') c.sock.end();
  });
  await within(Promise.all(r.conns.map((c) => c.closed)), 20_000, 'every connection closes');
  r.conns.forEach((c, i) => {
    const mc = m.conns[i];
    const got = Buffer.concat(c.received);
    const want = Buffer.concat(mc.expect);
    if (mc.state === 'destroyed') {
      check(got.length <= want.length, `#${i}: received ${got.length} > sent ${want.length}`);
      check(
        Buffer.compare(got, want.subarray(0, got.length)) === 0,
        `#${i}: echo is not a prefix of what was sent`,
      );
    } else {
      check(got.length === want.length, `#${i}: echoed ${got.length} of ${want.length} bytes`);
      check(Buffer.compare(got, want) === 0, `#${i}: echoed bytes differ`);
    }
    for (const { view, copy } of c.retained) {
      check(
        Buffer.compare(Buffer.from(view), copy) === 0,
        `#${i}: a retained view changed after close`,
      );
      c.sock.release(view);
    }
    c.retained = [];
  });
  const zc = await settleAll(
    r.zc.map((z) => z.promise),
    20_000,
    'sendZeroCopy promises',
  );
  for (const s of zc) {
    if (s.status === 'rejected') {
      check(s.reason instanceof ZerosockError, `zerocopy rejected untyped: ${s.reason?.message}`);
    }
  }
  check(r.unexpected.length === 0, `unexpected: ${r.unexpected.join('; ')}`);
}

async function cleanup(r) {
  for (const c of r.conns) {
    for (const { view } of c.retained) c.sock.release(view);
    c.sock.destroy();
  }
  for (const l of r.lent) r.pool.release(l.view);
  r.lent = [];
  await r.peer.closeAll();
}

for (const backend of backends)
  for (const where of ['same', 'child']) {
    test.serial(
      `${backend}: random API call sequences match the model, echo peer in the ${where} process (seed ${SEED}, ${RUNS} runs)`,
      async (t) => {
        await warmUp(backend);
        const fds = fdCount();
        const base = stats()[backend];
        let runs = 0;
        let executed = 0;
        const property = fc.asyncProperty(
          fc.commands(commands, { maxCommands: MAX_COMMANDS, size: 'max' }),
          async (cmds) => {
            runs++;
            const child = where === 'child' ? await startEcho('net') : null;
            const real = await setupReal(backend, where, child);
            const model = initModel();
            try {
              await fc.asyncModelRun(() => ({ model, real }), cmds);
              await finish(model, real);
            } finally {
              executed += real.executed;
              await cleanup(real);
              child?.kill();
            }
          },
        );
        const shrink = process.env.ZEROSOCK_FUZZ_SHRINK === '1';
        const result = await fc.check(property, {
          seed: SEED,
          numRuns: RUNS,
          endOnFailure: !shrink,
          interruptAfterTimeLimit: TIME_LIMIT,
          markInterruptAsFailure: false,
        });
        if (result.failed) {
          t.fail(
            `seed ${SEED}, path ${result.counterexamplePath}: ${result.errorInstance?.stack ?? result.error}\n` +
              `commands: ${result.counterexample?.[0]?.toString()}`,
          );
          return;
        }
        t.true(runs >= Math.min(RUNS, 5), `only ${runs} runs in ${TIME_LIMIT} ms`);
        t.log(
          `${backend}: ${runs} runs, ${executed} commands, seed ${SEED}${result.interrupted ? ' (time limit reached)' : ''}`,
        );
        await until(
          () =>
            fdCount() === fds &&
            stats()[backend].poolInUse === base.poolInUse &&
            stats()[backend].openSockets === base.openSockets,
          15_000,
        ).catch(() => {});
        t.is(fdCount(), fds, 'no fd leak');
        t.is(stats()[backend].poolInUse, base.poolInUse, 'engine pool back to baseline');
        t.is(stats()[backend].openSockets, base.openSockets, 'no engine socket left');
        t.is(stats()[backend].strandedSubmits, 0, 'no turn left work unsubmitted');
      },
    );
  }
