// One side (server or client) of one benchmark measurement, in its own process.
//
// The parent (lib/runner.mjs) forks two of these and drives them over IPC with commands:
//   serve   {workload, impl, variant, params, path?}       -> { port, path, isSocket } (server)
//   connect {workload, impl, variant, params, port, path?} -> {}                       (client)
//   finish  {}  server: resolves when its side of the workload is done -> result
//   run     {}  client: runs the workload                              -> result
//   exit    {}  replies, then exits
// Each result carries process.cpuUsage() over the measured part and zerosock's engine stats().
// With `path` (the `uds` workload) both sides use that Unix socket instead of 127.0.0.1, and
// `params.kind` names the workload whose code runs over it ('msgs' or 'latency').
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { once } from 'node:events';
import { statSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { stats as engineStats } from 'zerosock';
import { connect, connectMany, isZerosock, listen } from './transport.mjs';
import {
  makeMessage,
  messageTemplate,
  messagesCrc,
  MessageChecker,
  pattern,
  repeatedCrc,
  SampledChecker,
  STREAM_SEED,
} from './payload.mjs';
import { crc32 } from 'node:zlib';

let setup = null; // the serve/connect command
let server = null;
let finish = null; // server side: () => Promise<result>
let run = null; // client side: () => Promise<result>

/** The workload code a measurement runs: its own, or `params.kind` for `uds`. */
const kindOf = (m) => m.params.kind ?? m.workload;
const cpuSeconds = (u) => (u.user + u.system) / 1e6;
const withTimeout = (p, ms, what) =>
  Promise.race([
    p,
    sleep(ms, null, { ref: false }).then(() => {
      throw new Error(`${what} did not happen within ${ms} ms`);
    }),
  ]);

/** Ends the wrapped socket and resolves once it has closed (bounded). */
function endAndClose(w, ms) {
  const closed = once(w.sock, 'close');
  w.end();
  return withTimeout(closed, ms, 'close');
}

function engine() {
  if (!isZerosock(setup.impl)) return undefined;
  return engineStats()[setup.impl.slice('zerosock-'.length)];
}

/** Receiver timing: first byte, a mark after the warm-up, the last byte. */
class Window {
  constructor(warmupMs) {
    this.warmupMs = warmupMs;
    this.first = -1;
    this.mark = -1;
    this.markCount = 0;
    this.last = -1;
  }
  /** Call after counting a chunk; `count` is the running total. */
  tick(count) {
    const now = performance.now();
    if (this.first < 0) this.first = now;
    else if (this.mark < 0 && now - this.first >= this.warmupMs) {
      this.mark = now;
      this.markCount = count;
    }
    this.last = now;
  }
  /** { ms, count } of the measured part (all of it when the run was shorter than the warm-up). */
  result(total) {
    if (this.mark >= 0 && this.last > this.mark) {
      return { ms: this.last - this.mark, count: total - this.markCount };
    }
    return { ms: Math.max(this.last - this.first, 1e-3), count: total };
  }
}

// ------------------------------------------------------------------ one-way messages and streams

function serveOneWay(p) {
  let done;
  const ended = new Promise((resolve) => (done = resolve));
  let state = null;
  let cpu0 = null;
  const start = (w) => {
    const checker = kindOf(p) === 'msgs' ? new MessageChecker(p.params.size) : null;
    const sampled =
      checker === null && p.params.verify !== 'crc'
        ? new SampledChecker(pattern(p.params.size, STREAM_SEED))
        : null;
    const win = new Window(p.params.warmupMs);
    state = { checker, sampled, win, bytes: 0, crc: 0, dataEvents: 0 };
    w.sock.on('data', (v) => {
      state.dataEvents++;
      if (checker !== null) {
        checker.push(v);
        win.tick(checker.messages);
      } else if (sampled !== null) {
        sampled.push(v);
        win.tick(sampled.bytes);
      } else {
        state.bytes += v.byteLength;
        state.crc = crc32(v, state.crc);
        win.tick(state.bytes);
      }
    });
    w.sock.on('end', () => done());
    w.sock.on('error', (err) => done(err));
  };
  finish = async () => {
    cpu0 = process.cpuUsage();
    const err = await withTimeout(ended, p.params.timeoutMs, 'end of stream');
    if (err) throw err;
    const cpu = cpuSeconds(process.cpuUsage(cpu0));
    const s = state;
    const out = { cpuSeconds: cpu, dataEvents: s.dataEvents, engine: engine() };
    if (s.checker !== null) {
      Object.assign(out, {
        bytes: s.checker.bytes,
        crc: s.checker.crc,
        messages: s.checker.messages,
        badSeq: s.checker.badSeq,
        clean: s.checker.clean,
        window: s.win.result(s.checker.messages),
      });
    } else if (s.sampled !== null) {
      const { bytes, samples, mismatches } = s.sampled;
      Object.assign(out, { bytes, samples, mismatches, window: s.win.result(bytes) });
    } else {
      Object.assign(out, { bytes: s.bytes, crc: s.crc, window: s.win.result(s.bytes) });
    }
    return out;
  };
  return start;
}

function runOneWay(p, w) {
  const { params, impl, variant } = p;
  const netCork = impl === 'net' && variant === 'cork';
  const uncork = () => w.sock.uncork();
  return async () => {
    const deadline = performance.now() + params.durationMs;
    const cpu0 = process.cpuUsage();
    let sent = 0;
    let drains = 0;
    if (kindOf(p) === 'msgs') {
      const tpl = messageTemplate(params.size);
      const max = params.maxMessages;
      const batch = params.batch;
      while (sent < max && performance.now() < deadline) {
        let ok = true;
        if (netCork) w.sock.cork();
        const end = Math.min(max, sent + batch);
        while (sent < end) {
          ok = w.send(makeMessage(tpl, sent++));
          if (!ok) break;
        }
        if (netCork) process.nextTick(uncork);
        if (!ok) {
          drains++;
          await w.drain();
        } else await nextTurn();
      }
    } else {
      const chunk = pattern(params.size, STREAM_SEED);
      const max = Math.floor(params.maxBytes / params.size);
      while (sent < max && performance.now() < deadline) {
        sent++;
        if (!w.send(chunk)) {
          drains++;
          await w.drain();
        }
      }
    }
    const stats = w.stats();
    await endAndClose(w, params.timeoutMs);
    const cpu = cpuSeconds(process.cpuUsage(cpu0));
    const expected =
      kindOf(p) === 'msgs'
        ? {
            messages: sent,
            bytes: sent * params.size,
            crc: messagesCrc(messageTemplate(params.size), sent),
          }
        : {
            writes: sent,
            bytes: sent * params.size,
            ...(params.verify === 'crc'
              ? { crc: repeatedCrc(pattern(params.size, STREAM_SEED), sent) }
              : {}),
          };
    return { ...expected, cpuSeconds: cpu, drains, socket: stats, engine: engine() };
  };
}

// ------------------------------------------------------------------ echo server (latency, echo)

function serveEcho(p) {
  let echoed = 0;
  let conns = 0;
  let closedConns = 0;
  let allClosed;
  const closedAll = new Promise((resolve) => (allClosed = resolve));
  let cpu0 = null;
  const start = (w) => {
    conns++;
    w.sock.on('data', (v) => {
      echoed += v.byteLength;
      w.send(v);
    });
    w.sock.on('error', () => {});
    w.sock.on('close', () => {
      if (++closedConns === p.params.conns) allClosed();
    });
  };
  finish = async () => {
    cpu0 = process.cpuUsage();
    await withTimeout(closedAll, p.params.timeoutMs, 'all connections closed');
    return {
      echoedBytes: echoed,
      conns,
      cpuSeconds: cpuSeconds(process.cpuUsage(cpu0)),
      engine: engine(),
    };
  };
  return start;
}

/**
 * The paced workload's server: the echo server, plus its own CPU accounting over the measured
 * window (from the first request: after `warmupMs`, for `durationMs`), so connection set-up and
 * close are not in the row.
 */
function servePaced(p) {
  const start = serveEcho(p);
  const echo = finish;
  let firstSeen = false;
  let echoed = 0;
  const window = { cpuSeconds: NaN, requests: 0, ms: 0 };
  let close = () => {};
  const open = () => {
    const cpu0 = process.cpuUsage();
    const [n0, t0] = [echoed, performance.now()];
    close = () => {
      close = () => {};
      window.cpuSeconds = cpuSeconds(process.cpuUsage(cpu0));
      window.requests = (echoed - n0) / 64;
      window.ms = performance.now() - t0;
    };
    // Closed a little before the client stops sending (or when the last connection closed).
    setTimeout(() => close(), p.params.durationMs * 0.9);
  };
  finish = async () => {
    const result = await echo();
    close();
    return { ...result, window };
  };
  return (w) => {
    w.sock.on('data', (v) => {
      echoed += v.byteLength;
      if (firstSeen) return;
      firstSeen = true;
      setTimeout(open, p.params.warmupMs);
    });
    start(w);
  };
}

/** One request/response lane on a connection: 64 B out, wait for the same 64 B back. */
class Lane {
  constructor(w, tpl, id, onReply) {
    this.w = w;
    this.tpl = tpl;
    this.id = id;
    this.size = tpl.length;
    this.seq = 0;
    this.msg = null;
    this.acc = Buffer.allocUnsafe(tpl.length);
    this.got = 0;
    this.bad = 0;
    this.replies = 0;
    this.extra = 0;
    this.onReply = onReply;
    w.sock.on('data', (v) => this.onData(v));
  }
  request() {
    this.msg = makeMessage(this.tpl, (this.id << 20) + this.seq++);
    this.got = 0;
    this.w.send(this.msg);
  }
  onData(v) {
    let off = 0;
    while (off < v.byteLength) {
      if (this.msg === null) {
        this.extra += v.byteLength - off;
        return;
      }
      const n = Math.min(this.size - this.got, v.byteLength - off);
      this.acc.set(v.subarray(off, off + n), this.got);
      this.got += n;
      off += n;
      if (this.got === this.size) {
        if (this.acc.compare(this.msg) !== 0) this.bad++;
        this.msg = null;
        this.replies++;
        this.onReply(this);
      }
    }
  }
}

function runLatency(p, w) {
  const { params } = p;
  return async () => {
    const tpl = messageTemplate(64);
    const total = params.warmupRounds + params.rounds;
    const samples = new Float64Array(params.rounds);
    let n = 0;
    let t0 = 0n;
    const deadline = performance.now() + params.maxMs;
    const cpu0 = process.cpuUsage();
    let finished;
    const done = new Promise((resolve) => (finished = resolve));
    const lane = new Lane(w, tpl, 1, (l) => {
      const dt = Number(process.hrtime.bigint() - t0);
      const i = l.replies - params.warmupRounds;
      if (i >= 0) samples[n++] = dt;
      if (l.replies >= total || performance.now() > deadline) return finished();
      t0 = process.hrtime.bigint();
      l.request();
    });
    t0 = process.hrtime.bigint();
    lane.request();
    await withTimeout(done, params.maxMs + params.timeoutMs, 'ping-pong');
    const cpu = cpuSeconds(process.cpuUsage(cpu0));
    const stats = w.stats();
    await endAndClose(w, params.timeoutMs);
    const s = Array.from(samples.subarray(0, n)).sort((a, b) => a - b);
    const q = (f) =>
      s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.floor(f * s.length))] / 1e3;
    return {
      rounds: lane.replies,
      sentBytes: lane.seq * 64,
      bad: lane.bad,
      extraBytes: lane.extra,
      samples: n,
      p50Us: q(0.5),
      p90Us: q(0.9),
      p99Us: q(0.99),
      maxUs: s.length ? s[s.length - 1] / 1e3 : NaN,
      meanUs: s.reduce((a, b) => a + b, 0) / Math.max(1, s.length) / 1e3,
      cpuSeconds: cpu,
      socket: stats,
      engine: engine(),
    };
  };
}

function runEcho(p, socks) {
  const { params } = p;
  return async () => {
    const tpl = messageTemplate(64);
    const start = performance.now();
    const warmEnd = start + params.warmupMs;
    const stopAt = warmEnd + params.durationMs;
    let running = true;
    let inWindow = 0;
    let outstanding = 0;
    let idle;
    const allIdle = new Promise((resolve) => (idle = resolve));
    const cpu0 = process.cpuUsage();
    const onReply = (lane) => {
      const now = performance.now();
      if (now >= warmEnd && now < stopAt) inWindow++;
      if (running && now >= stopAt) running = false;
      if (running) lane.request();
      else if (--outstanding === 0) idle();
    };
    const lanes = socks.map((w, i) => new Lane(w, tpl, i, onReply));
    for (const l of lanes) {
      outstanding++;
      l.request();
    }
    // Stop even if some connection stalls; the verification below will show it.
    const timer = setTimeout(() => (running = false), stopAt - start);
    await withTimeout(allIdle, stopAt - start + params.timeoutMs, 'echo replies');
    clearTimeout(timer);
    const cpu = cpuSeconds(process.cpuUsage(cpu0));
    const windowMs = stopAt - warmEnd;
    let replies = 0;
    let sent = 0;
    let bad = 0;
    let extra = 0;
    for (const l of lanes) {
      replies += l.replies;
      sent += l.seq;
      bad += l.bad;
      extra += l.extra;
    }
    const stats = socks.map((w) => w.stats());
    await Promise.all(socks.map((w) => endAndClose(w, params.timeoutMs)));
    const bytesPerFlush = stats.reduce((a, s) => a + (s.bytesPerFlush ?? 0), 0) / stats.length;
    return {
      conns: socks.length,
      requests: sent,
      replies,
      bad,
      extraBytes: extra,
      windowMs,
      windowReplies: inWindow,
      cpuSeconds: cpu,
      bytesPerFlush,
      engine: engine(),
    };
  };
}

// ------------------------------------------------------------------ paced load (paced)

/**
 * A paced client: `conns` node:net connections (whatever the server is) sending `rate` 64 B
 * requests per second between them, round robin (each connection one per `conns / rate` s); open
 * loop (a request goes at its time even if the last reply is late). Replies are matched in order.
 */
function runPaced(p, socks) {
  const { params } = p;
  const { rate } = params;
  return async () => {
    const tpl = messageTemplate(64);
    const start = performance.now();
    const warmEnd = start + params.warmupMs;
    const stopAt = warmEnd + params.durationMs;
    const samples = [];
    let requests = 0;
    let replies = 0;
    let bad = 0;
    let extra = 0;
    let pendingTotal = 0;
    let drained;
    const allReplied = new Promise((resolve) => (drained = resolve));
    let stopped = false;
    const cpu0 = process.cpuUsage();
    const lanes = socks.map((w, i) => {
      const lane = { w, id: i, seq: 0, queue: [], acc: Buffer.allocUnsafe(64), got: 0 };
      w.sock.on('data', (v) => {
        let off = 0;
        while (off < v.byteLength) {
          const head = lane.queue[0];
          if (head === undefined) {
            extra += v.byteLength - off;
            return;
          }
          const n = Math.min(64 - lane.got, v.byteLength - off);
          lane.acc.set(v.subarray(off, off + n), lane.got);
          lane.got += n;
          off += n;
          if (lane.got < 64) continue;
          lane.got = 0;
          lane.queue.shift();
          if (lane.acc.compare(head.msg) !== 0) bad++;
          replies++;
          if (head.sentAt >= warmEnd && head.sentAt < stopAt) {
            samples.push(performance.now() - head.sentAt);
          }
          if (--pendingTotal === 0 && stopped) drained();
        }
      });
      return lane;
    });
    // One scheduler for all connections: every request is due at start + k / rate; each
    // wake-up sends the ones due, round robin over the connections (timers fire at ~1 ms).
    let next = 0;
    let timer = null;
    const pump = () => {
      const now = performance.now();
      if (now >= stopAt) return;
      const due = Math.floor(((now - start) * rate) / 1000) + 1;
      while (requests < due) {
        const lane = lanes[next];
        next = (next + 1) % lanes.length;
        const msg = makeMessage(tpl, (lane.id << 20) + lane.seq++);
        lane.queue.push({ msg, sentAt: now });
        pendingTotal++;
        requests++;
        lane.w.send(msg);
      }
      timer = setTimeout(pump, Math.max(0, start + (requests * 1000) / rate - now));
    };
    pump();
    await sleep(stopAt - start);
    stopped = true;
    clearTimeout(timer);
    if (pendingTotal > 0) await withTimeout(allReplied, params.timeoutMs, 'paced replies');
    const cpu = cpuSeconds(process.cpuUsage(cpu0));
    await Promise.all(socks.map((w) => endAndClose(w, params.timeoutMs)));
    samples.sort((a, b) => a - b);
    const q = (f) =>
      samples.length === 0
        ? NaN
        : samples[Math.min(samples.length - 1, Math.floor(f * samples.length))] * 1e3;
    return {
      conns: socks.length,
      rate,
      achievedRate: requests / ((stopAt - start) / 1000),
      requests,
      replies,
      bad,
      extraBytes: extra,
      lanes: lanes.length,
      samples: samples.length,
      p50Us: q(0.5),
      p99Us: q(0.99),
      cpuSeconds: cpu,
    };
  };
}

// ------------------------------------------------------------------ idle connections

const rss = () => process.memoryUsage().rss;
async function settle() {
  for (let i = 0; i < 2; i++) {
    globalThis.gc?.();
    await sleep(100);
  }
}

function serveIdle(p) {
  const conns = [];
  let rss0 = 0;
  const start = (w) => {
    w.sock.on('error', () => {});
    conns.push(w);
  };
  const before = async () => {
    await settle();
    rss0 = rss();
  };
  finish = async () => {
    const t = performance.now() + p.params.timeoutMs;
    while (conns.length < p.params.conns && performance.now() < t) await sleep(20);
    if (conns.length < p.params.conns) throw new Error(`only ${conns.length} connections arrived`);
    await settle();
    const rss1 = rss();
    return {
      conns: conns.length,
      rssBefore: rss0,
      rssAfter: rss1,
      bytesPerConn: (rss1 - rss0) / conns.length,
      engine: engine(),
    };
  };
  return { start, before };
}

// ------------------------------------------------------------------ command handling

const commands = {
  async serve(m) {
    setup = m;
    const kind = kindOf(m);
    let onConn;
    let before = null;
    if (kind === 'msgs' || kind === 'stream') onConn = serveOneWay(m);
    else if (kind === 'latency' || kind === 'echo') onConn = serveEcho(m);
    else if (kind === 'paced') onConn = servePaced(m);
    else if (kind === 'idle') ({ start: onConn, before } = serveIdle(m));
    else throw new Error(`unknown workload ${m.workload}`);
    server = await listen(m.impl, m.variant, onConn, { path: m.path });
    // Over a path: the listener is a socket file there (not TCP), as the client will find it.
    const isSocket = m.path !== undefined ? statSync(m.path).isSocket() : null;
    if (before) await before();
    return { port: server.port, path: server.path, isSocket, pid: process.pid };
  },
  async connect(m) {
    setup = m;
    const kind = kindOf(m);
    const target = m.path !== undefined ? { path: m.path } : { port: m.port };
    if (kind === 'msgs' || kind === 'stream') {
      run = runOneWay(m, await connect(m.impl, m.variant, target));
    } else if (kind === 'latency') {
      run = runLatency(m, await connect(m.impl, m.variant, target));
    } else if (kind === 'echo') {
      run = runEcho(m, await connectMany(m.impl, m.variant, target, m.params.conns));
    } else if (kind === 'paced') {
      // The clients are node:net whatever the server is: the row is about the server.
      run = runPaced(m, await connectMany('net', 'write', target, m.params.conns));
    } else if (kind === 'idle') {
      await settle();
      const rss0 = rss();
      const socks = await connectMany(m.impl, m.variant, target, m.params.conns);
      for (const w of socks) w.sock.on('error', () => {});
      run = async () => {
        await settle();
        const rss1 = rss();
        return {
          conns: socks.length,
          rssBefore: rss0,
          rssAfter: rss1,
          bytesPerConn: (rss1 - rss0) / socks.length,
          engine: engine(),
        };
      };
    } else throw new Error(`unknown workload ${m.workload}`);
    return { pid: process.pid };
  },
  finish: () => finish(),
  run: () => run(),
  exit: () => {
    setTimeout(() => process.exit(0), 20).unref();
    return {};
  },
};

process.on('message', async (m) => {
  try {
    const result = await commands[m.cmd](m);
    process.send({ id: m.id, ok: true, result });
  } catch (err) {
    process.send({ id: m.id, ok: false, error: String(err?.stack ?? err) });
  }
});
process.on('disconnect', () => process.exit(0));
