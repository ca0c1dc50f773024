/**
 * The per-thread engine: one native engine per backend per JS thread (worker_threads get
 * their own). Native → JS events arrive as 8-int records in shared memory and are walked
 * here in one pass; JS → native work (sends, releases, closes) is written as records and
 * submitted with one native call per tick (DESIGN.md §2–4).
 */
import { native } from './native';
import { callNative, ZerosockError } from './errors';
import type { NativeEngine } from './binding';
import {
  AcceptedAt,
  DataAt,
  ErrorAt,
  Ev,
  MappedAt,
  Layout,
  SentAt,
  Sub,
  SYSCALL_NAMES,
  ZcDoneAt,
  FileSentAt,
} from './records.generated';

/**
 * Flushes that may walk their completions inline between two event-loop dispatches. Past it,
 * flushes only submit and completions arrive through the loop: on loopback, completions
 * answered by callbacks (a writer awaiting 'drain', an echo) otherwise chain flush after
 * flush in microtasks, and timers and other I/O never run again.
 */
const MAX_INLINE_ROUNDS = 16;

/** `ZEROSOCK_DEBUG=1`: a stranded submit throws (with where the bytes are) instead of counting. */
const DEBUG = process.env.ZEROSOCK_DEBUG === '1';

/** Record layout and kinds: generated from crates/wire/src/records.rs. */
export { Ev, Sub } from './records.generated';

/**
 * What a listener implements to receive its events. The engine decodes each event record
 * once, at the offsets generated from crates/wire/src/records.rs, and calls one method.
 */
export interface ListenerSink {
  /** The listener accepted connection `socket`. */
  onAccepted(socket: number): void;
  /** The listener failed (`errno` from `syscall`). */
  onError(errno: number, syscall: string): void;
  /** The listener is closed; its last event. */
  onClosed(): void;
  /** Where this sink's unsent bytes are, for a stranded-submit report. */
  describeWrites?(): string | undefined;
}

/** What a connection implements to receive its events (decoded as for {@link ListenerSink}). */
export interface SocketSink {
  /** The connect() finished. */
  onConnected(): void;
  /** `len` bytes at `byteOffset` of pool region `region`, lent under the handle (lo, hi). */
  onData(region: number, byteOffset: number, len: number, handleLo: number, handleHi: number): void;
  /** The kernel took `bytes` more of what was sent. */
  onSent(bytes: number): void;
  /** The oldest `sendFile()` is done: `bytes` sent, `errno` 0 or why reading the file failed. */
  onFileSent(bytes: number, errno: number): void;
  /** The peer's FIN. */
  onEof(): void;
  /** The socket failed (`errno` from `syscall`). */
  onError(errno: number, syscall: string): void;
  /** The socket is closed; its last event. */
  onClosed(): void;
  /** Zerocopy sends `first..=last` finished; `copied` when the kernel copied any of them. */
  onZeroCopyDone(first: number, last: number, copied: boolean): void;
  /** Zerocopy receive mapped `len` bytes (window, chunk), to be given back under `token`. */
  onMapped(window: number, chunk: number, len: number, token: number): void;
  /** TLS: the handshake is over. */
  onTlsReady(): void;
  /** TLS: the session failed. */
  onTlsFailed(): void;
  /** Where this sink's unsent bytes are, for a stranded-submit report. */
  describeWrites?(): string | undefined;
}

/** A socket or a listener: native sends a listener only ACCEPTED, ERROR and CLOSED. */
export type EventSink = ListenerSink | SocketSink;

/** A pool buffer lent to JS: where it is and its handle. */
export interface PoolSlice {
  view: Uint8Array;
  handleLo: number;
  handleHi: number;
}

export type BackendName = 'io_uring' | 'epoll';

/** Name of the syscall with index `i` in error records. */
export function syscallName(i: number): string {
  return SYSCALL_NAMES[i] ?? 'unknown';
}

export class Engine {
  readonly native: NativeEngine;
  readonly backend: BackendName;
  private readonly events: Int32Array;
  private readonly submits: Int32Array;
  private readonly submitCapacity: number;
  private submitCount = 0;
  private flushQueued = false;
  private readonly regions: ArrayBuffer[] = [];
  private readonly sinks = new Map<number, EventSink>();
  private readonly beforeFlush = new Set<() => void>();
  private refs = 0;
  /** Busy-poll budgets (µs) of open sockets → how many ask for each; the largest applies. */
  private readonly busyPolls = new Map<number, number>();
  private busyPollUs = 0;
  private pendingErrors: unknown[] = [];
  /** Checks that found native owing a submit with no flush scheduled (always 0). */
  private stranded = 0;
  private walking = false;
  /** Inline-collecting flushes since the last dispatch from the event loop. */
  private inlineRounds = 0;
  private readonly eventCapacity: number;
  /** The view being delivered in a 'data' callback right now, and its buffer handle. */
  private current: Uint8Array | null = null;
  private currentLo = 0;
  private currentHi = 0;
  private currentRetained = false;
  /** The current view's buffer went to a send (forwarded): it cannot be retained. */
  private currentForwarded = false;
  private readonly retained = new Map<Uint8Array, [number, number]>();

  constructor(backend: string | undefined) {
    this.native = callNative(() => new native.NativeEngine({ backend }));
    this.backend = this.native.backend as BackendName;
    this.events = new Int32Array(this.native.eventBuffer());
    this.submits = new Int32Array(this.native.submitBuffer());
    this.submitCapacity = (this.submits.length - Layout.ReplyInts) / Layout.RecordInts;
    this.eventCapacity = this.events.length / Layout.RecordInts;
    this.native.start((count: number) => this.dispatch(count));
    this.native.setRef(false);
  }

  /** Registers the receiver of `id`'s events. */
  attach(id: number, sink: EventSink): void {
    this.sinks.set(id, sink);
  }

  /** Forgets `id` (after its CLOSED event). */
  detach(id: number): void {
    this.sinks.delete(id);
  }

  /** Something open (socket, listener, pending connect) keeps the process alive. */
  ref(): void {
    if (this.refs++ === 0) this.native.setRef(true);
  }

  unref(): void {
    if (this.refs > 0 && --this.refs === 0) this.native.setRef(false);
  }

  /** An open socket asks for busy polling of `us` µs (0: none). */
  holdBusyPoll(us: number): void {
    if (us <= 0) return;
    this.busyPolls.set(us, (this.busyPolls.get(us) ?? 0) + 1);
    this.applyBusyPoll();
  }

  /** The socket that asked for `us` closed. */
  dropBusyPoll(us: number): void {
    const n = this.busyPolls.get(us);
    if (n === undefined) return;
    if (n > 1) this.busyPolls.set(us, n - 1);
    else this.busyPolls.delete(us);
    this.applyBusyPoll();
  }

  /** The busy-poll budget in force (µs; 0 = off). */
  get busyPoll(): number {
    return this.busyPollUs;
  }

  private applyBusyPoll(): void {
    let max = 0;
    for (const us of this.busyPolls.keys()) max = Math.max(max, us);
    if (max === this.busyPollUs) return;
    this.busyPollUs = max;
    callNative(() => this.native.setBusyPoll(max));
  }

  /** The region `id` of pool memory as an ArrayBuffer (made once). */
  region(id: number): ArrayBuffer {
    let ab = this.regions[id];
    if (ab === undefined) {
      ab = callNative(() => this.native.regionBuffer(id));
      this.regions[id] = ab;
    }
    return ab;
  }

  /** Takes a pool buffer (0: small class, 1: large class) to fill from JS. */
  acquire(cls: number): PoolSlice {
    const region = callNative(() => this.native.acquire(cls));
    const r = this.submits;
    return {
      view: new Uint8Array(this.region(region), r[1], r[4]),
      handleLo: r[2],
      handleHi: r[3],
    };
  }

  /** Lends `view` to a 'data' callback: valid until {@link endLend} unless retained. */
  lend(view: Uint8Array, lo: number, hi: number): void {
    this.current = view;
    this.currentLo = lo;
    this.currentHi = hi;
    this.currentRetained = false;
    this.currentForwarded = false;
  }

  /** The callback returned: the buffer goes back unless it was retained. */
  endLend(view: Uint8Array): void {
    if (this.current !== view) return;
    this.current = null;
    if (!this.currentRetained) this.submit(Sub.Release, 0, this.currentLo, this.currentHi);
  }

  /**
   * Forwarding: if `view` lies inside the view lent to the running 'data' callback, the pool
   * buffer behind it is taken from JS (the callback's end no longer releases it) and returned
   * as `[handleLo, handleHi, offset in the buffer]`, for the caller to name in a SEND record:
   * the engine sends the received bytes in place and frees the buffer once the kernel took them.
   * Null when `view` is not lent memory, is retained (its memory must stay valid until
   * `release()`), or was taken already (sent once: a second send copies).
   */
  takeLent(view: Uint8Array): [number, number, number] | null {
    const cur = this.current;
    if (cur === null || this.currentRetained || view.buffer !== cur.buffer) return null;
    const offset = view.byteOffset - cur.byteOffset;
    if (offset < 0 || offset + view.byteLength > cur.byteLength) return null;
    this.currentRetained = true; // the send owns it now
    this.currentForwarded = true;
    return [this.currentLo, this.currentHi, offset];
  }

  /** Keeps the view of the running 'data' callback until {@link release}. */
  retain(view: Uint8Array): Uint8Array {
    if (view === this.current && this.currentForwarded) {
      throw new ZerosockError(
        'ERR_ZEROSOCK_BUFFER_IN_FLIGHT',
        'retain() of a view whose buffer was handed to a send() (forwarded without a copy): copy it to keep it',
      );
    }
    if (view !== this.current || this.currentRetained) {
      throw new ZerosockError(
        'ERR_ZEROSOCK_BUFFER_RELEASED',
        'retain() takes the view of the running data callback; this one was already returned or retained',
      );
    }
    this.currentRetained = true;
    this.retained.set(view, [this.currentLo, this.currentHi]);
    return view;
  }

  /** Gives a retained view's buffer back to the pool. */
  release(view: Uint8Array): void {
    const h = this.retained.get(view);
    if (h === undefined) {
      throw new ZerosockError(
        'ERR_ZEROSOCK_BUFFER_RELEASED',
        'release() of a view that is not retained (never retained, or released already)',
      );
    }
    this.retained.delete(view);
    this.submit(Sub.Release, 0, h[0], h[1]);
  }

  /** Views retained and not yet released. */
  get retainedCount(): number {
    return this.retained.size;
  }

  /** Queues one record for the next flush (end of this tick). */
  submit(kind: Sub, id: number, lo = 0, hi = 0, offset = 0, len = 0, extra = 0): void {
    if (this.submitCount === this.submitCapacity) this.flushRecords(false);
    const at = Layout.ReplyInts + this.submitCount * Layout.RecordInts;
    const s = this.submits;
    s[at] = kind;
    s[at + 1] = id;
    s[at + 2] = lo;
    s[at + 3] = hi;
    s[at + 4] = offset;
    s[at + 5] = len;
    s[at + 6] = extra;
    this.submitCount++;
    this.scheduleFlush();
  }

  /** Runs `fn` right before each flush (sockets seal their cork buffers there). */
  onBeforeFlush(fn: () => void): void {
    this.beforeFlush.add(fn);
    this.scheduleFlush();
  }

  offBeforeFlush(fn: () => void): void {
    this.beforeFlush.delete(fn);
  }

  scheduleFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(() => this.flush());
  }

  /** Seals corked data and submits every queued record with one native call. */
  flush(): void {
    this.flushQueued = false;
    this.runBeforeFlush();
    if (this.walking) {
      // Inside an event walk: submit now (order matters), completions come via the loop.
      this.flushRecords(false);
      return;
    }
    this.drain(this.flushRecords(this.mayCollect()));
    this.checkSettled('flush');
  }

  /** Whether native holds work that only a flush hands to the kernel. */
  private nativeOwes(): boolean {
    return this.submits[Layout.OwesSubmitInt] !== 0;
  }

  /** Whether anything is waiting for this engine's next flush (JS records, corks, native). */
  private flushWanted(): boolean {
    return this.submitCount > 0 || this.beforeFlush.size > 0 || this.nativeOwes();
  }

  /**
   * The invariant of the write path: after a dispatch or a flush, whatever waits for a flush
   * has one scheduled. A breach is counted (`stats().strandedSubmits`), fixed by scheduling the
   * flush, and under `ZEROSOCK_DEBUG=1` thrown with where the bytes are.
   */
  private checkSettled(where: string): void {
    if (this.flushQueued || !this.flushWanted()) return;
    this.stranded++;
    this.scheduleFlush();
    if (DEBUG) throw this.strandedError(where);
  }

  private strandedError(where: string): ZerosockError {
    const d = this.native.submitDebt();
    const sockets: string[] = [];
    for (const [id, sink] of this.sinks) {
      const w = sink.describeWrites?.();
      if (w !== undefined)
        sockets.push(`socket ${id}: ${w}, native queue ${this.native.queuedBytes(id)} B`);
    }
    return new ZerosockError(
      'ERR_ZEROSOCK_STRANDED_SUBMIT',
      `after ${where}, work waits for a flush that nobody scheduled: ${this.submitCount} JS ` +
        `record(s), ${this.beforeFlush.size} cork(s) to seal; native: ${d.dirtySockets} dirty ` +
        `socket(s) with ${d.queuedBytes} B queued, ${d.sqes} SQE(s), ${d.unannouncedEvents} ` +
        `unannounced event(s)` +
        (sockets.length > 0 ? `; ${sockets.join('; ')}` : ''),
    );
  }

  /** Stranded-submit checks that failed (JS side; native counts its own). */
  get strandedSubmits(): number {
    return this.stranded;
  }

  /** Whether the next flush may collect completions inline (see MAX_INLINE_ROUNDS). */
  private mayCollect(): boolean {
    return ++this.inlineRounds <= MAX_INLINE_ROUNDS;
  }

  /**
   * Submits the queued records now (keeping their order before a direct native call) without
   * walking completions: the caller is on a user's stack (e.g. inside `send()`), where no
   * callback may run and completions must not keep a `while (send())` loop going forever.
   */
  submitQueued(): void {
    if (this.submitCount > 0) this.flushRecords(false);
  }

  private runBeforeFlush(): void {
    if (this.beforeFlush.size === 0) return;
    const fns = [...this.beforeFlush];
    this.beforeFlush.clear();
    for (const fn of fns) fn();
  }

  /** One native call: submit the queued records; with `collect`, returns inline events. */
  private flushRecords(collect: boolean): number {
    const n = this.submitCount;
    this.submitCount = 0;
    return callNative(() => this.native.flush(n, collect));
  }

  /** Called by native from the event loop with `count` event records. */
  private dispatch(count: number): void {
    this.inlineRounds = 0; // the event loop had its turn
    this.drain(count);
    this.checkSettled('an event dispatch');
  }

  /**
   * Walks `count` records, then submits what the walk queued and walks what completed at once,
   * until nothing is left — a loop, not recursion. User callbacks that throw are rethrown
   * (asynchronously) after the walk so no event of the batch is lost.
   */
  private drain(count: number): void {
    let n = count;
    // Records that callbacks queue during the walks are submitted right here, so they need no
    // end-of-tick flush: queueing one per walk kept the microtask queue from ever emptying.
    const queued = this.flushQueued;
    this.flushQueued = true;
    try {
      while (n > 0) {
        this.walk(n);
        if (n === this.eventCapacity) n = this.native.takePending();
        else n = 0;
        // Also when only native owes one: a send made in a callback may leave a direct
        // write's remainder queued natively with no JS record to flush it.
        if (n === 0 && this.flushWanted()) {
          this.runBeforeFlush();
          n = this.flushRecords(this.mayCollect());
        }
      }
    } finally {
      this.flushQueued = queued;
    }
    if (this.pendingErrors.length > 0) {
      const errors = this.pendingErrors;
      this.pendingErrors = [];
      for (const err of errors)
        process.nextTick(() => {
          throw err;
        });
    }
  }

  private walk(count: number): void {
    const rec = this.events;
    this.walking = true;
    try {
      for (let i = 0; i < count; i++) {
        const at = i * Layout.RecordInts;
        const sink = this.sinks.get(rec[at + 1]);
        if (sink === undefined) {
          // A late event for a socket JS already forgot: give buffers back.
          if (rec[at] === Ev.Data)
            this.submit(Sub.Release, 0, rec[at + DataAt.HandleLo], rec[at + DataAt.HandleHi]);
          else if (rec[at] === Ev.Mapped) this.submit(Sub.Release, 0, rec[at + MappedAt.Token], 0);
          continue;
        }
        try {
          deliver(sink, rec, at);
        } catch (err) {
          this.pendingErrors.push(err);
        }
      }
    } finally {
      this.walking = false;
    }
  }
}

/** Decodes the event record at `at` and calls the sink's method for its kind. */
function deliver(sink: EventSink, rec: Int32Array, at: number): void {
  switch (rec[at] as Ev) {
    case Ev.Data:
      (sink as SocketSink).onData(
        rec[at + DataAt.Region],
        rec[at + DataAt.ByteOffset],
        rec[at + DataAt.Len],
        rec[at + DataAt.HandleLo],
        rec[at + DataAt.HandleHi],
      );
      break;
    case Ev.Sent:
      (sink as SocketSink).onSent(
        (rec[at + SentAt.BytesLo] >>> 0) + (rec[at + SentAt.BytesHi] >>> 0) * 2 ** 32,
      );
      break;
    case Ev.FileSent:
      (sink as SocketSink).onFileSent(
        (rec[at + FileSentAt.BytesLo] >>> 0) + (rec[at + FileSentAt.BytesHi] >>> 0) * 2 ** 32,
        rec[at + FileSentAt.Errno],
      );
      break;
    case Ev.Accepted:
      (sink as ListenerSink).onAccepted(rec[at + AcceptedAt.Socket]);
      break;
    case Ev.Connected:
      (sink as SocketSink).onConnected();
      break;
    case Ev.Eof:
      (sink as SocketSink).onEof();
      break;
    case Ev.Error:
      sink.onError(rec[at + ErrorAt.Errno], syscallName(rec[at + ErrorAt.Syscall]));
      break;
    case Ev.Closed:
      sink.onClosed();
      break;
    case Ev.ZcDone:
      (sink as SocketSink).onZeroCopyDone(
        rec[at + ZcDoneAt.First] >>> 0,
        rec[at + ZcDoneAt.Last] >>> 0,
        rec[at + ZcDoneAt.Copied] !== 0,
      );
      break;
    case Ev.TlsReady:
      (sink as SocketSink).onTlsReady();
      break;
    case Ev.TlsFailed:
      (sink as SocketSink).onTlsFailed();
      break;
    case Ev.Mapped:
      (sink as SocketSink).onMapped(
        rec[at + MappedAt.Window],
        rec[at + MappedAt.Chunk],
        rec[at + MappedAt.Len],
        rec[at + MappedAt.Token],
      );
      break;
  }
}

const engines = new Map<string, Engine>();
const resolvedBackends = new Map<string, string>();
let fallbackReported = false;

/** This thread's engine for `backend` ('auto' resolves through ZEROSOCK_BACKEND and the probe). */
export function engineFor(backend: string | undefined): Engine {
  const key = backend ?? 'auto';
  let resolved = resolvedBackends.get(key);
  if (resolved === undefined) {
    resolved = callNative(() => native.resolveBackend(backend));
    resolvedBackends.set(key, resolved);
    reportFallback(key, resolved);
  }
  let e = engines.get(resolved);
  if (e === undefined) {
    e = new Engine(resolved);
    engines.set(resolved, e);
  }
  return e;
}

/** `auto` fell back to epoll although nobody asked for it: say so, once per process. */
function reportFallback(requested: string, resolved: string): void {
  if (fallbackReported || requested !== 'auto' || resolved !== 'epoll') return;
  if (process.env.ZEROSOCK_BACKEND === 'epoll') return;
  fallbackReported = true;
  const why = native.probe().ioUring;
  process.emitWarning(
    `io_uring is not usable here (${why.error ?? 'missing features'}); using the epoll backend`,
    { type: 'ZerosockWarning', code: 'ZEROSOCK_EPOLL_FALLBACK' },
  );
}

/** Counters of one engine: system calls, SQEs/CQEs, bytes, copy-breaks, pool use. */
export type EngineStats = ReturnType<NativeEngine['stats']> & { backend: BackendName };

/**
 * Counters of every engine this thread has started, by backend (`{ io_uring: {...} }`).
 * `poolInUse` counts buffers out of the pool, including io_uring's posted receive buffers.
 */
export function stats(): Partial<Record<BackendName, EngineStats>> {
  const out: Partial<Record<BackendName, EngineStats>> = {};
  for (const e of engines.values()) {
    const s = e.native.stats();
    out[e.backend] = {
      backend: e.backend,
      ...s,
      strandedSubmits: s.strandedSubmits + e.strandedSubmits,
    };
  }
  return out;
}
