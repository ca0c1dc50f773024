// The write path never strands bytes: the textbook pump — send until false, resume on 'drain'
// — made from inside every place user code runs, at every size around the cork and direct-write
// thresholds, to a receiver in this process and in another one, node:net and zerosock. The
// receiver checks SHA-256; a case that stalls reports what is queued where.
import test from 'ava';
import { Worker } from 'node:worker_threads';
import { connect, createServer, stats } from 'zerosock';
import { backends, sha256, pattern } from './helpers.mjs';
import { startSink } from './peers/sink.mjs';

const SIZES = [1, 1024, 16 * 1024 - 1, 16 * 1024, 64 * 1024, 256 * 1024, 1 << 20, 4 << 20];
/** Sends per case: enough to pass highWaterMark (1 MiB) a few times, bounded for tiny sizes. */
const sendsFor = (size) => Math.min(256, Math.max(3, Math.ceil((2.5 * (1 << 20)) / size)));
const CASE_MS = 30_000;
const PEERS = ['net', 'zerosock'];
/** The places user code runs, besides 'outside' (an async function awaiting 'drain'). */
const SITES = [
  'drain',
  'data',
  'end',
  'close',
  'connection',
  'await connect()',
  'zerocopy',
  'sendZeroCopy promise',
  'setTimeout',
  'setImmediate',
  'process.nextTick',
  'promise.then',
  'worker message',
];
const WHERE = ['child', 'same'];

/** One worker thread that echoes messages (the 'worker message' call site). */
let worker;
const workerWaiters = [];
function workerTick(fn) {
  worker ??= new Worker(
    'require("node:worker_threads").parentPort.on("message", (m) => require("node:worker_threads").parentPort.postMessage(m))',
    { eval: true },
  );
  if (workerWaiters.length === 0) worker.on('message', onWorkerMessage);
  workerWaiters.push(fn);
  worker.postMessage(0);
}
function onWorkerMessage() {
  const fn = workerWaiters.shift();
  if (workerWaiters.length === 0) worker.off('message', onWorkerMessage);
  fn();
}
test.after.always(() => worker?.terminate());

/**
 * Helpers on the sender's backend whose callbacks are the call sites: a server that ends
 * what it accepts, one that hands its 'connection' to a waiter, a socket pair for 'data',
 * and a zerocopy sender for 'zerocopy' and sendZeroCopy promises.
 */
async function sitesFor(backend) {
  const ender = createServer({ backend }, (s) => s.end());
  await ender.listen({ port: 0, host: '127.0.0.1' });
  const onConnection = [];
  const acceptor = createServer({ backend }, (s) => {
    s.on('error', () => {});
    s.resume();
    onConnection.shift()?.(s);
  });
  await acceptor.listen({ port: 0, host: '127.0.0.1' });
  const onData = [];
  let peer;
  const pairServer = createServer({ backend }, (s) => {
    peer = s;
    s.on('data', () => {
      // One byte per waiter; bytes of several sends may arrive together.
      for (const fn of onData.splice(0)) fn();
    });
  });
  await pairServer.listen({ port: 0, host: '127.0.0.1' });
  const pair = await connect({ port: pairServer.address().port, host: '127.0.0.1', backend });
  pair.resume();
  const zcBuf = Buffer.alloc(32 * 1024, 1);
  const opts = (s) => ({ port: s.address().port, host: '127.0.0.1', backend });
  const sites = {
    drain: (fn) => fn(),
    data: (fn) => {
      onData.push(fn);
      pair.send('x');
    },
    end: (fn) => {
      connect(opts(ender)).then((c) => c.once('end', fn));
    },
    close: (fn) => {
      connect(opts(ender)).then((c) => c.once('close', fn));
    },
    connection: (fn) => {
      onConnection.push((s) => {
        fn();
        s.destroy();
      });
      connect(opts(acceptor)).then((c) => c.on('error', () => {}).resume());
    },
    'await connect()': (fn) => {
      (async () => {
        const c = await connect(opts(ender));
        fn();
        c.resume();
      })();
    },
    zerocopy: (fn) => {
      pair.sendZeroCopy(zcBuf, { id: true });
      pair.once('zerocopy', () => fn());
    },
    'sendZeroCopy promise': (fn) => {
      pair.sendZeroCopy(zcBuf).then(() => fn());
    },
    setTimeout: (fn) => setTimeout(fn, 0),
    setImmediate: (fn) => setImmediate(fn),
    'process.nextTick': (fn) => process.nextTick(fn),
    'promise.then': (fn) => Promise.resolve().then(fn),
    'worker message': (fn) => workerTick(fn),
  };
  if (Object.keys(sites).join() !== SITES.join()) throw new Error('SITES and sitesFor differ');
  const close = async () => {
    pair.destroy();
    peer?.destroy();
    await Promise.all([ender.close(), acceptor.close(), pairServer.close()]);
  };
  return { sites, close };
}

/** Where a stalled case's bytes are. */
async function stallReport(sock, sink, sent, total) {
  const s = stats()[sock.backend];
  const received = await sink.progress(sock.localPort);
  return (
    `stalled: ${sent} of ${total} B accepted by send(), the receiver has ${received} B; ` +
    `${sock.describeWrites() ?? 'nothing unsent in JS'}, native queue ` +
    `${sock.engine.native.queuedBytes(sock.id)} B, writableLength ${sock.writableLength}; ` +
    `engine owes ${JSON.stringify(sock.engine.native.submitDebt())}, strandedSubmits ` +
    `${s.strandedSubmits}`
  );
}

/**
 * Connects to `sink`, runs the pump with every call (the first and each resumption after
 * 'drain') made at `site`, ends, and returns what the receiver reported.
 */
async function pumpCase(backend, sink, site, size) {
  const sock = await connect({ port: sink.port, host: '127.0.0.1', backend });
  const buf = pattern(size, size);
  const n = sendsFor(size);
  const finished = sink.done(sock.localPort);
  let i = 0;
  const pump = () => {
    while (i < n) {
      i++;
      if (!sock.send(buf)) {
        sock.once('drain', () => site(pump));
        return;
      }
    }
    sock.end();
  };
  if (site === null) {
    // Outside any callback: an async function awaiting 'drain'.
    for (; i < n; i++) if (!sock.send(buf)) await new Promise((r) => sock.once('drain', r));
    sock.end();
  } else site(pump);
  let timer;
  const stalled = new Promise((resolve) => {
    timer = setTimeout(resolve, CASE_MS, 'stalled');
  });
  const got = await Promise.race([finished, stalled]);
  clearTimeout(timer);
  if (got === 'stalled') {
    const why = await stallReport(sock, sink, i * size, n * size);
    sock.destroy();
    throw new Error(why);
  }
  await new Promise((r) => (sock.destroyed ? r() : sock.once('close', r)));
  const want = sha256();
  for (let k = 0; k < n; k++) want.update(buf);
  return { got, want: { bytes: n * size, sha: want.digest('hex') } };
}

/** At most `limit` cases at once in this file (each moves up to 16 MiB). */
function limiter(limit) {
  let active = 0;
  const queue = [];
  return async (fn) => {
    if (active >= limit) await new Promise((r) => queue.push(r));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      queue.shift()?.();
    }
  };
}
const slot = limiter(3);

for (const backend of backends) {
  let helpers;
  const sinks = new Map();
  const sinkFor = async (kind, where) => {
    const key = `${kind}/${where}`;
    if (!sinks.has(key)) sinks.set(key, startSink(kind, backend, where));
    return sinks.get(key);
  };
  test.before(async () => {
    helpers = await sitesFor(backend);
  });
  test.after.always(async () => {
    await helpers?.close();
    for (const s of sinks.values()) await (await s).close();
  });

  for (const kind of PEERS) {
    for (const where of WHERE) {
      for (const name of ['outside', ...SITES]) {
        test(`${backend}: send() from ${name} to a ${kind} peer in the ${where} process`, async (t) => {
          const sink = await sinkFor(kind, where);
          const site = name === 'outside' ? null : helpers.sites[name];
          for (const size of SIZES) {
            const { got, want } = await slot(() => pumpCase(backend, sink, site, size));
            t.is(got.bytes, want.bytes, `${size} B x ${sendsFor(size)}: bytes`);
            t.is(got.sha, want.sha, `${size} B x ${sendsFor(size)}: SHA-256`);
          }
        });
      }
    }
  }

  test.after(`${backend}: strandedSubmits stays 0`, async (t) => {
    t.is(stats()[backend]?.strandedSubmits ?? 0, 0);
    for (const [key, s] of sinks) t.is(await (await s).stranded(), 0, `peer ${key}`);
  });
}
