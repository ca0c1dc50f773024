/**
 * `Socket`: a TCP connection on a zerosock engine. Small sends are corked into pool memory in
 * JS and flushed once per tick; received bytes arrive as borrowed views into pool memory.
 */
import { EventEmitter } from 'node:events';
import { Engine, Ev, Sub, type EventSink, type PoolSlice } from './engine';
import {
  Append,
  Tick,
  appendDecision,
  endOfTick,
  releasesOnCompletion,
  type CorkPolicy,
  type FlushReason,
} from './cork';
import { ZerosockError, InvalidArgumentError } from './errors';
import { systemError } from './system-error';
import { syscallName } from './engine';
import {
  ZeroCopy,
  assertNotInFlight,
  emptyZeroCopyStats,
  type ZeroCopyResult,
  type ZeroCopySendOptions,
  type ZeroCopyStats,
} from './zerocopy';
import { SocketDuplex, type DuplexOptions } from './duplex';
import { defaultBusyPollUs } from './validate';

/** Auto-cork settings (DESIGN.md §2). */
export interface CorkOptions {
  /** Flush once this many bytes are corked (default and maximum: one pool buffer, 64 KiB). */
  maxBytes?: number;
  /**
   * While an earlier flush of this socket is still with the kernel, hold new small sends for
   * up to this long (or until that flush completes) to coalesce more — TCP autocorking's
   * rule. A send after idle never waits. 0 flushes at every end of tick. Default 50.
   * (Timers have millisecond granularity: values below 1000 wait at most ~1 ms.)
   */
  maxDelayUs?: number;
}

export type { FlushReason } from './cork';

/** Options shared by sockets from `connect()` and from a server. */
export interface SocketOptions {
  /** Corking of small sends; `false` sends each message on its own (still one call per tick). */
  cork?: CorkOptions | false;
  /** `send()` returns false once this many bytes wait to reach the kernel (default 1 MiB). */
  highWaterMark?: number;
  /** Keep the writable side open after the peer's FIN (default false, like node:net). */
  allowHalfOpen?: boolean;
  /** `sendZeroCopy()` below this many bytes becomes a corked copy (default 16 KiB). */
  zerocopyThreshold?: number;
  /**
   * Receive by mapping pages (TCP_ZEROCOPY_RECEIVE, epoll backend): mapped 'data' views are
   * READ-ONLY memory — writing to one kills the process. See ts/zerocopy.ts. Default false.
   */
  zerocopyReceive?: boolean;
  /**
   * Busy polling: the most µs (0..10000; default 50, or `ZEROSOCK_BUSY_POLL_US`; 0 = off) the
   * JS thread may spin before the event loop sleeps waiting for I/O, so a reply is picked up
   * without a sleep and a wake-up (SO_BUSY_POLL's trade). Adaptive: the budget grows while the
   * waits for zerosock are short (request/response) and drops to 0 when they are long (sparse
   * traffic); it spins only after zerosock work, never while immediates wait, not past the next
   * timer, and stops as soon as any other handle of the loop is ready. The engine (one per
   * thread and backend) uses the largest value of its open sockets.
   */
  busyPollUs?: number;
}

/** Counters of one socket. */
export interface SocketStats {
  bytesSent: number;
  bytesReceived: number;
  messagesSent: number;
  dataEvents: number;
  flushes: number;
  bytesPerFlush: number;
  flushReasons: Record<FlushReason, number>;
  largeSends: number;
  pendingBytes: number;
  /** Zerocopy send / receive counters. */
  zerocopy: ZeroCopyStats;
}

/** Bytes at or above which `send()` bypasses the cork buffer. */
const LARGE_SEND = 16 * 1024;
const LARGE_CLASS = 1;

interface Pending {
  view: Uint8Array;
  lo: number;
  hi: number;
}

export class Socket extends EventEmitter implements EventSink {
  /** `'io_uring'` or `'epoll'`. */
  readonly backend: string;
  /** @internal */
  readonly engine: Engine;
  /** @internal */
  readonly id: number;
  private readonly corkMax: number;
  private readonly corkEnabled: boolean;
  private readonly corkDelayMs: number;
  private readonly policy: CorkPolicy;
  private corkTimer: NodeJS.Timeout | null = null;
  private readonly highWaterMark: number;
  private readonly busyPollUs: number;
  private allowHalfOpen: boolean;
  private duplex: SocketDuplex | null = null;
  private zc: ZeroCopy | null = null;
  private readonly zcThreshold: number | undefined;
  private cork: PoolSlice | null = null;
  private corkUsed = 0;
  private corkMessages = 0;
  private pendingBytes = 0;
  private needDrain = false;
  private sealHook: (() => void) | null = null;
  private backlog: Pending[] | null = null;
  private paused = false;
  /** Like a node stream: data flows once a 'data' listener is added or resume() is called. */
  private flowing = false;
  private eofPending = false;
  /**
   * Lifecycle events (EOF, error, closed) held back right after `connect()` resolved, until the
   * caller's continuation had its turn to add listeners; null when not holding.
   */
  private held: Array<[Ev, number, number]> | null = null;
  private closeSubmitted = false;
  private closed = false;
  private finishEmitted = false;
  private hadError = false;
  private pendingError: Error | null = null;
  private local?: { address: string; family: string; port: number };
  private remote?: { address: string; family: string; port: number };
  private counters = {
    bytesSent: 0,
    bytesReceived: 0,
    messagesSent: 0,
    dataEvents: 0,
    flushes: 0,
    flushedBytes: 0,
    largeSends: 0,
  };
  private readonly reasons: Record<FlushReason, number> = {
    full: 0,
    endOfTick: 0,
    completion: 0,
    timer: 0,
    explicit: 0,
    largeSend: 0,
    end: 0,
  };
  /** True once `end()` was called. */
  writableEnded = false;
  /** True once the peer's FIN arrived and 'end' was emitted. */
  readableEnded = false;
  /** True once `destroy()` was called or the socket failed. */
  destroyed = false;
  /** @internal resolves the connect() promise */
  onConnect: ((err?: Error) => void) | null = null;

  /** @internal */
  constructor(engine: Engine, id: number, options: SocketOptions = {}) {
    super();
    this.engine = engine;
    this.id = id;
    this.backend = engine.backend;
    this.corkEnabled = options.cork !== false;
    const cork = options.cork ? options.cork : {};
    this.corkMax = Math.max(1, Math.min(cork.maxBytes ?? 64 * 1024, 64 * 1024));
    const delayUs = this.corkEnabled ? (cork.maxDelayUs ?? 50) : 0;
    this.corkDelayMs = delayUs > 0 ? Math.max(1, Math.round(delayUs / 1000)) : 0;
    this.policy = {
      maxBytes: this.corkMax,
      maxDelayUs: delayUs,
      largeSend: LARGE_SEND,
      enabled: this.corkEnabled,
    };
    this.highWaterMark = options.highWaterMark ?? 1024 * 1024;
    this.allowHalfOpen = options.allowHalfOpen ?? false;
    this.zcThreshold = options.zerocopyThreshold;
    this.busyPollUs = options.busyPollUs ?? defaultBusyPollUs();
    engine.holdBusyPoll(this.busyPollUs);
    if (options.zerocopyReceive === true) {
      this.zeroCopy().receive = true;
      engine.submit(Sub.ZcRecv, id, 1);
    }
    engine.attach(id, this);
    engine.ref();
    this.on('newListener', (name) => {
      if (name !== 'data') return;
      this.flowing = true;
      if (this.backlog !== null && !this.paused) queueMicrotask(() => this.drainBacklog());
    });
  }

  /** The peer's IP address (like node:net). */
  get remoteAddress(): string | undefined {
    return this.peer()?.address;
  }

  get remotePort(): number | undefined {
    return this.peer()?.port;
  }

  get remoteFamily(): string | undefined {
    return this.peer()?.family;
  }

  get localAddress(): string | undefined {
    return this.address()?.address;
  }

  get localPort(): number | undefined {
    return this.address()?.port;
  }

  /** Local address, like `net.Socket#address()`. */
  address(): { address: string; family: string; port: number } | undefined {
    if (this.local === undefined && !this.closed) {
      try {
        this.local = this.engine.native.localAddress(this.id);
      } catch {
        return undefined;
      }
    }
    return this.local;
  }

  private peer(): { address: string; family: string; port: number } | undefined {
    if (this.remote === undefined && !this.closed) {
      try {
        this.remote = this.engine.native.remoteAddress(this.id);
      } catch {
        return undefined;
      }
    }
    return this.remote;
  }

  /**
   * Queues `data` (bytes or a UTF-8 string). Small messages are copied into the cork buffer in
   * JS — no native call — and leave together at the end of the tick. Returns false when more
   * than `highWaterMark` bytes wait; `'drain'` follows.
   */
  send(data: Uint8Array | string): boolean {
    this.assertWritable();
    if (typeof data === 'string') return this.sendString(data);
    if (!(data instanceof Uint8Array)) {
      throw new InvalidArgumentError(
        'ERR_INVALID_ARG_TYPE',
        'The "data" argument must be a Uint8Array or a string.',
      );
    }
    const n = data.byteLength;
    this.counters.messagesSent++;
    if (n === 0) return this.pendingBytes < this.highWaterMark;
    if (appendDecision(this.policy, this.corkUsed, n) === Append.Bypass) {
      this.sendLarge(data);
    } else {
      const dst = this.corkRoom(n);
      dst.view.set(data, this.corkUsed);
      this.corked(n);
    }
    return this.afterSend(n);
  }

  private sendString(s: string): boolean {
    this.counters.messagesSent++;
    // Upper bound of the UTF-8 size; exact size only when it might not fit.
    if (s.length * 3 <= this.corkMax && s.length * 3 < LARGE_SEND) {
      const dst = this.corkRoom(s.length * 3);
      const { written } = encoder.encodeInto(s, dst.view.subarray(this.corkUsed));
      this.corked(written);
      return this.afterSend(written);
    }
    const bytes = Buffer.from(s, 'utf8');
    if (bytes.byteLength === 0) return this.pendingBytes < this.highWaterMark;
    if (appendDecision(this.policy, this.corkUsed, bytes.byteLength) === Append.Bypass)
      this.sendLarge(bytes);
    else {
      const dst = this.corkRoom(bytes.byteLength);
      dst.view.set(bytes, this.corkUsed);
      this.corked(bytes.byteLength);
    }
    return this.afterSend(bytes.byteLength);
  }

  private afterSend(n: number): boolean {
    this.pendingBytes += n;
    this.counters.bytesSent += n;
    if (!this.corkEnabled) this.seal('explicit');
    if (this.pendingBytes >= this.highWaterMark) {
      this.needDrain = true;
      return false;
    }
    return true;
  }

  /** The cork buffer with room for `n` more bytes (sealing the full one first). */
  private corkRoom(n: number): PoolSlice {
    if (this.cork !== null && this.corkUsed + n > this.corkMax) this.seal('full');
    if (this.cork === null) {
      this.cork = this.engine.acquire(LARGE_CLASS);
      this.corkUsed = 0;
    }
    if (this.sealHook === null) {
      this.sealHook = () => {
        this.sealHook = null;
        this.endOfTick();
      };
      this.engine.onBeforeFlush(this.sealHook);
    }
    return this.cork;
  }

  private corked(n: number): void {
    this.corkUsed += n;
    this.corkMessages++;
  }

  /**
   * End of tick: flush what is corked, unless an earlier flush is still with the kernel — then
   * hold (autocork) until it completes or `maxDelayUs` passes.
   */
  private endOfTick(): void {
    const inFlight = this.pendingBytes - this.corkUsed;
    const tick = endOfTick(this.policy, this.corkUsed, inFlight, this.writableEnded);
    if (tick === Tick.Idle) return;
    if (tick === Tick.Hold) {
      this.corkTimer ??= setTimeout(() => {
        this.corkTimer = null;
        if (this.corkUsed > 0 && !this.destroyed) {
          this.seal('timer');
          this.engine.scheduleFlush();
        }
      }, this.corkDelayMs);
      return;
    }
    this.seal('endOfTick');
  }

  /** Hands the corked bytes to the engine (one SEND record). */
  private seal(reason: FlushReason): void {
    const c = this.cork;
    if (c === null || this.corkUsed === 0) return;
    if (this.corkTimer !== null) {
      clearTimeout(this.corkTimer);
      this.corkTimer = null;
    }
    this.engine.submit(Sub.Send, this.id, c.handleLo, c.handleHi, 0, this.corkUsed);
    this.reasons[reason]++;
    this.counters.flushes++;
    this.counters.flushedBytes += this.corkUsed;
    this.cork = null;
    this.corkUsed = 0;
    this.corkMessages = 0;
  }

  private sendLarge(data: Uint8Array): void {
    this.seal('largeSend');
    // Submit (order) but don't walk completions here: user callbacks would run inside send(),
    // and on io_uring a `while (sock.send(big))` loop would never see `false` (it starved the
    // event loop), and a reset delivered here made the sendCopy below fail as INTERNAL.
    this.engine.submitQueued();
    this.counters.largeSends++;
    try {
      this.engine.native.sendCopy(this.id, data);
      // What the direct write left over is queued: submit it with this tick's flush.
      this.engine.scheduleFlush();
    } catch (err) {
      // The engine already saw this socket fail (peer reset) and its 'error' event is further
      // on in the batch being walked: drop the bytes, as a corked send's record would be.
      if ((err as { code?: string }).code === 'ERR_ZEROSOCK_SOCKET_CLOSED') return;
      throw new ZerosockError('ERR_ZEROSOCK_INTERNAL', (err as Error).message, { cause: err });
    }
  }

  /**
   * Sends `buf` without copying it: the kernel reads it in place, and the promise resolves
   * once the kernel let go of it, with `copied: true` if it copied after all (on loopback it
   * usually does). Keep `buf` unchanged until then. Below `zerocopyThreshold` bytes it is a
   * corked copy (`copied: true`). With `{ id: true }` returns the send id instead and reports
   * completions only as `'zerocopy'` events `(firstId, lastId, copied, err?)`. Pending sends
   * are rejected with `ERR_ZEROSOCK_SOCKET_CLOSED` when the socket closes first. See
   * ts/zerocopy.ts.
   */
  sendZeroCopy(buf: Uint8Array, opts: ZeroCopySendOptions & { id: true }): number;
  sendZeroCopy(buf: Uint8Array, opts?: ZeroCopySendOptions): Promise<ZeroCopyResult>;
  sendZeroCopy(buf: Uint8Array, opts?: ZeroCopySendOptions): Promise<ZeroCopyResult> | number {
    return this.zeroCopy().send(buf, opts);
  }

  private zeroCopy(): ZeroCopy {
    return (this.zc ??= new ZeroCopy(this, this.zcThreshold));
  }

  /** @internal Corked bytes go first; `n` zerocopy bytes now wait for the kernel. */
  beforeZeroCopy(n: number): void {
    this.seal('largeSend');
    this.pendingBytes += n;
    this.counters.bytesSent += n;
  }

  /** Sends what is corked now instead of at the end of the tick. */
  flush(): void {
    if (this.destroyed) return;
    this.seal('explicit');
    this.engine.flush();
  }

  /** Sends `data` if given, then FIN once everything queued has left. */
  end(data?: Uint8Array | string): this {
    if (this.writableEnded || this.destroyed) return this;
    if (data !== undefined) this.send(data);
    this.writableEnded = true;
    this.seal('end');
    this.dropCork();
    this.engine.submit(Sub.Shutdown, this.id);
    this.maybeClose();
    return this;
  }

  /** Closes at once: queued sends are dropped, in-flight operations cancelled. */
  destroy(err?: Error): this {
    if (this.destroyed) return this;
    this.destroyed = true;
    this.writableEnded = true;
    if (this.corkTimer !== null) clearTimeout(this.corkTimer);
    this.corkTimer = null;
    this.dropCork();
    this.releaseBacklog();
    if (err) {
      this.hadError = true;
      this.pendingError = err;
      process.nextTick(() => this.emitPendingError());
    }
    this.submitClose();
    return this;
  }

  /** Stops 'data' events (and reading) until `resume()`. */
  pause(): this {
    if (!this.paused && !this.destroyed) {
      this.paused = true;
      this.engine.submit(Sub.Pause, this.id);
    }
    return this;
  }

  /** Restarts 'data' events; also makes data flow when nobody listens (it is then dropped). */
  resume(): this {
    this.flowing = true;
    if (this.backlog !== null && !this.paused && !this.destroyed) {
      queueMicrotask(() => this.drainBacklog());
      return this;
    }
    if (this.paused && !this.destroyed) {
      this.paused = false;
      if (this.backlog !== null) queueMicrotask(() => this.drainBacklog());
      else this.engine.submit(Sub.Resume, this.id);
    }
    return this;
  }

  /**
   * This socket as a `stream.Duplex` (a {@link SocketDuplex}, shaped like `net.Socket`) for
   * node:http and other stream users; received bytes are copied out of pool memory. The
   * duplex owns the socket from now on; calling again returns the same one.
   */
  toDuplex(options: DuplexOptions = {}): SocketDuplex {
    if (this.duplex !== null) return this.duplex;
    const allowHalfOpen = options.allowHalfOpen ?? this.allowHalfOpen;
    this.allowHalfOpen = true; // the duplex decides about half-open now
    this.duplex = new SocketDuplex(this, { ...options, allowHalfOpen });
    return this.duplex;
  }

  /** Keeps the view passed to the current 'data' callback valid until `release(view)`. */
  retain(view: Uint8Array): Uint8Array {
    return this.engine.retain(view);
  }

  /** Gives a retained view's buffer back to the pool. */
  release(view: Uint8Array): void {
    assertNotInFlight(view, 'released');
    this.engine.release(view);
  }

  /** Counters of this socket. */
  stats(): SocketStats {
    const c = this.counters;
    return {
      bytesSent: c.bytesSent,
      bytesReceived: c.bytesReceived,
      messagesSent: c.messagesSent,
      dataEvents: c.dataEvents,
      flushes: c.flushes,
      bytesPerFlush: c.flushes === 0 ? 0 : c.flushedBytes / c.flushes,
      flushReasons: { ...this.reasons },
      largeSends: c.largeSends,
      pendingBytes: this.pendingBytes,
      zerocopy: this.zc?.stats() ?? emptyZeroCopyStats(),
    };
  }

  /** Bytes accepted by send() that the kernel has not taken yet. */
  get writableLength(): number {
    return this.pendingBytes;
  }

  /** @internal Where this socket's unsent bytes are (JS cork, native + kernel). */
  describeWrites(): string | undefined {
    if (this.pendingBytes === 0 && this.corkUsed === 0) return undefined;
    return `${this.corkUsed} B in the JS cork, ${this.pendingBytes - this.corkUsed} B handed to native (queued or in the kernel)`;
  }

  /** @internal */
  onEvent(kind: Ev, rec: Int32Array, at: number): void {
    if (this.held !== null && (kind === Ev.Eof || kind === Ev.Error || kind === Ev.Closed)) {
      this.held.push([kind, rec[at + 2], rec[at + 3]]);
      return;
    }
    switch (kind) {
      case Ev.Data:
        this.onData(rec[at + 2], rec[at + 3], rec[at + 4], rec[at + 5], rec[at + 6]);
        break;
      case Ev.Sent:
        this.onSent(rec[at + 2] >>> 0);
        break;
      case Ev.Connected: {
        const cb = this.onConnect;
        this.onConnect = null;
        if (cb === null) break;
        // `await connect()` resumes the caller after this walk: an EOF, reset or close that
        // arrives meanwhile would be emitted before it could listen. Hold them one turn.
        this.held = [];
        setImmediate(() => this.releaseHeld());
        cb();
        break;
      }
      case Ev.Eof:
      case Ev.Error:
      case Ev.Closed:
        this.onLifecycle(kind, rec[at + 2], rec[at + 3]);
        break;
      case Ev.ZcDone:
        this.zc?.onDone(rec[at + 2] >>> 0, rec[at + 3] >>> 0, rec[at + 4] !== 0);
        break;
      case Ev.Mapped:
        this.onView(this.zeroCopy().mappedView(rec[at + 5], rec[at + 4]), rec[at + 5], 0);
        break;
      default:
        break;
    }
  }

  private onLifecycle(kind: Ev, a: number, b: number): void {
    if (kind === Ev.Eof) {
      if (this.backlog !== null) this.eofPending = true;
      else this.onEof();
    } else if (kind === Ev.Error) this.onError(a, syscallName(b));
    else this.onClosed();
  }

  private releaseHeld(): void {
    const held = this.held;
    this.held = null;
    for (const [kind, a, b] of held ?? []) this.onLifecycle(kind, a, b);
  }

  private onData(region: number, offset: number, len: number, lo: number, hi: number): void {
    if (this.zc?.receive) this.zc.countCopied(len);
    this.onView(new Uint8Array(this.engine.region(region), offset, len), lo, hi);
  }

  private onView(view: Uint8Array, lo: number, hi: number): void {
    this.counters.bytesReceived += view.byteLength;
    if (this.destroyed) {
      this.engine.submit(Sub.Release, 0, lo, hi);
      return;
    }
    if (this.backlog !== null || this.paused || !this.flowing) {
      if (this.backlog === null) {
        this.backlog = [];
        if (!this.paused) this.engine.submit(Sub.Pause, this.id);
      }
      this.backlog.push({ view, lo, hi });
      return;
    }
    this.deliver(view, lo, hi);
  }

  private deliver(view: Uint8Array, lo: number, hi: number): void {
    this.counters.dataEvents++;
    this.engine.lend(view, lo, hi);
    try {
      this.emit('data', view);
    } finally {
      this.engine.endLend(view);
    }
  }

  private drainBacklog(): void {
    const list = this.backlog;
    if (list === null || this.paused || !this.flowing) return;
    this.backlog = null;
    for (let i = 0; i < list.length; i++) {
      const p = list[i];
      if (this.destroyed) {
        this.engine.submit(Sub.Release, 0, p.lo, p.hi);
        continue;
      }
      if (this.paused) {
        // pause() from a 'data' callback: the rest waits for resume(), as in a node stream
        // (reading stays paused; anything that arrived meanwhile queues behind it).
        const rest = list.slice(i);
        this.backlog = this.backlog === null ? rest : rest.concat(this.backlog);
        return;
      }
      this.deliver(p.view, p.lo, p.hi);
    }
    if (!this.destroyed) this.engine.submit(Sub.Resume, this.id);
    if (this.eofPending) {
      this.eofPending = false;
      this.onEof();
    }
  }

  private releaseBacklog(): void {
    const list = this.backlog;
    this.backlog = null;
    if (list === null) return;
    for (const p of list) this.engine.submit(Sub.Release, 0, p.lo, p.hi);
  }

  private onSent(bytes: number): void {
    this.pendingBytes = Math.max(0, this.pendingBytes - bytes);
    // Autocork: the flush we were waiting for completed; send what piled up meanwhile.
    const inFlight = this.pendingBytes - this.corkUsed;
    if (releasesOnCompletion(this.corkUsed, inFlight, this.corkTimer !== null)) {
      this.seal('completion');
      this.engine.scheduleFlush();
    }
    if (this.needDrain && this.pendingBytes < this.highWaterMark / 4) {
      this.needDrain = false;
      this.emit('drain');
    }
    this.maybeClose();
  }

  private onEof(): void {
    if (this.readableEnded) return;
    this.readableEnded = true;
    this.emit('end');
    if (!this.allowHalfOpen && !this.destroyed) this.end();
    this.maybeClose();
  }

  private onError(errno: number, syscall: string): void {
    const peer = this.remote;
    const err = systemError(errno, syscall, peer?.address, peer?.port);
    if (this.onConnect !== null) {
      const cb = this.onConnect;
      this.onConnect = null;
      this.destroyed = true;
      this.submitClose();
      cb(err);
      return;
    }
    this.destroy(err);
  }

  /** 'error' is emitted before 'close', like node:net. */
  private emitPendingError(): void {
    const err = this.pendingError;
    if (err === null) return;
    this.pendingError = null;
    this.emit('error', err);
  }

  private onClosed(): void {
    if (this.closed) return;
    this.emitPendingError();
    this.closed = true;
    this.destroyed = true;
    this.releaseBacklog();
    this.zc?.onClosed();
    this.engine.detach(this.id);
    this.engine.dropBusyPoll(this.busyPollUs);
    this.engine.unref();
    if (this.sealHook !== null) this.engine.offBeforeFlush(this.sealHook);
    this.emit('close', this.hadError);
  }

  private maybeClose(): void {
    if (this.writableEnded && this.pendingBytes === 0 && !this.finishEmitted && !this.destroyed) {
      // 'finish': after end(), every byte reached the kernel (the FIN follows), like net's.
      this.finishEmitted = true;
      process.nextTick(() => this.emit('finish'));
    }
    if (this.readableEnded && this.writableEnded && this.pendingBytes === 0) this.submitClose();
  }

  private submitClose(): void {
    if (this.closeSubmitted) return;
    this.closeSubmitted = true;
    this.engine.submit(Sub.Close, this.id);
  }

  private dropCork(): void {
    const c = this.cork;
    if (c === null) return;
    if (this.corkUsed > 0 && !this.destroyed) {
      this.seal('end');
      return;
    }
    this.engine.submit(Sub.Drop, 0, c.handleLo, c.handleHi);
    this.cork = null;
    this.corkUsed = 0;
  }

  private assertWritable(): void {
    if (this.destroyed || this.closed) {
      throw new ZerosockError('ERR_ZEROSOCK_SOCKET_CLOSED', 'send() on a closed socket');
    }
    if (this.writableEnded) {
      throw new ZerosockError('ERR_ZEROSOCK_SOCKET_CLOSED', 'send() after end()');
    }
  }
}

const encoder = new TextEncoder();
