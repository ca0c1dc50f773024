/**
 * Zerocopy send and receive for a {@link Socket} (DESIGN.md §6, §7) — the logic behind
 * `sock.sendZeroCopy()` and the `zerocopyReceive` option; net/socket.ts only forwards to it.
 *
 * **Send.** `sendZeroCopy(buf)` lends `buf`'s memory to the kernel: io_uring SEND_ZC with usage
 * reporting, or MSG_ZEROCOPY on epoll. The engine reports completions as ranges of send ids
 * (one ZC_DONE record for many sends), resolved here in one pass. Each result says whether
 * the kernel copied after all (`copied: true`) — on loopback it nearly always does: the receive
 * side cannot keep the sender's pages.
 *
 * Memory lifetime (the napi question): the `Uint8Array` itself is kept referenced by the
 * pending entry until completion, so V8 keeps its backing store (whose address never moves);
 * the binding only records the address (`pinZeroCopy`) for the next SEND_ZC record, which keeps
 * the send's place among the socket's other sends. No napi reference and no copy. Do not
 * transfer or detach the `ArrayBuffer` while a send is in flight. The view of a running 'data'
 * callback is forwarded: its pool buffer goes to the send (SEND_ZC_POOL) and comes back to the
 * pool when the kernel lets go (counted in `forwardedBytes`). Views of a `BufferPool` and
 * retained receive views are lent in place: `release()` of them throws
 * `ERR_ZEROSOCK_BUFFER_IN_FLIGHT` until completion. Writing into a lent buffer cannot be
 * stopped — it changes what may be sent.
 *
 * Below `zerocopyThreshold` bytes (default 16 KiB) pinning and notifications cost more than a
 * copy, so the send becomes a corked copy (`sock.send`) and reports `copied: true` at once.
 * Measured with benchmark/zerocopy.mjs (loopback, Linux 6.18, 2 shared cores): per GB the
 * sender spent 0.62–0.70 CPU-s with sendZeroCopy vs 0.38–0.43 with send() at 16 KiB messages,
 * about the same at 64 KiB (0.17–0.26 vs 0.17–0.18), and 0.05–0.10 vs 0.23–0.24 at 1 MiB. On
 * loopback the receiver pays the copy instead (0.77 vs 0.26–0.42 CPU-s/GB at 1 MiB), so
 * throughput there is lower with zerocopy at every size; the sender-side gain is what a real
 * NIC keeps. Raise the threshold to 64 KiB when most peers are local.
 *
 * **Receive.** With `zerocopyReceive: true` (epoll backend) received pages are mapped, not
 * copied: 'data' views over them are READ-ONLY memory (writing to one kills the process with
 * SIGSEGV) and are detached (become empty) when released. Stragglers arrive by copy as usual.
 * On io_uring the normal receive path is kept (counted as copied).
 */
import type { Engine } from '../../core/engine';
import { Sub } from '../../core/engine';
import { InvalidArgumentError, ZerosockError } from '../../core/errors';
import { validateOptions } from '../../core/validate';
import { clearInFlight, markInFlight } from '../../mem/lent-memory';

/** Options of `sock.sendZeroCopy()`. */
export interface ZeroCopySendOptions {
  /**
   * Return the send id synchronously instead of a promise; completions are then only reported
   * by the socket's `'zerocopy'` event: `(firstId, lastId, copied, err?)`, one call per range.
   */
  id?: boolean;
}

/** What a `sendZeroCopy()` promise resolves with. */
export interface ZeroCopyResult {
  /** Bytes sent. */
  bytes: number;
  /** The kernel copied the bytes after all (or the send was below the threshold). */
  copied: boolean;
}

/** Zerocopy counters of one socket (`sock.stats().zerocopy`). */
export interface ZeroCopyStats {
  /** `sendZeroCopy()` calls. */
  sends: number;
  /** Bytes of those calls. */
  bytes: number;
  /** Calls below the threshold, sent as corked copies. */
  thresholdCopies: number;
  /** Completed sends the kernel sent without copying. */
  zerocopyBytes: number;
  /** Completed sends' bytes that were copied (by the kernel or below the threshold). */
  copiedBytes: number;
  /** Completion records (each resolves a range of sends). */
  notifications: number;
  /** Zerocopy sends completed per completion record. */
  sendsPerNotification: number;
  /** Sends not completed yet. */
  inFlight: number;
  /** Received bytes mapped (not copied) — zerocopy receive. */
  recvMappedBytes: number;
  /** Received bytes copied on a socket that asked for zerocopy receive. */
  recvCopiedBytes: number;
}

/** What the zerocopy logic needs from its socket. */
export interface ZeroCopyHost {
  readonly id: number;
  readonly engine: Engine;
  readonly destroyed: boolean;
  readonly writableEnded: boolean;
  send(data: Uint8Array): boolean;
  emit(event: string | symbol, ...args: unknown[]): boolean;
  listenerCount(event: string | symbol): number;
  /** Seals corked bytes (so they go before) and counts `n` bytes as pending. */
  beforeZeroCopy(n: number): void;
  /** `n` bytes left from a pool buffer zerosock lent, without a copy (`forwardedBytes`). */
  countForwarded(n: number): void;
}

/** Default `zerocopyThreshold`: below it a copy is cheaper than pinning plus a notification. */
export const DEFAULT_ZEROCOPY_THRESHOLD = 16 * 1024;

interface Entry {
  jsId: number;
  bytes: number;
  /** Keeps the memory alive until the kernel lets go. */
  view: Uint8Array | null;
  resolve: ((r: ZeroCopyResult) => void) | null;
  reject: ((e: Error) => void) | null;
  done: boolean;
}

/** Per-socket zerocopy state (made on first use). */
export class ZeroCopy {
  private readonly host: ZeroCopyHost;
  private readonly threshold: number;
  /** Zerocopy entries in engine send id order; `zc[head]` has engine id `engineFront`. */
  private zc: Entry[] = [];
  private head = 0;
  private engineFront = 0;
  /** The engine id the next zerocopy send gets (the engine counts from 0 per socket). */
  private engineNext = 0;
  private jsNext = 0;
  /** Below-threshold sends completed this tick (settled together). */
  private copies: Entry[] = [];
  private copiesQueued = false;
  private readonly counters = {
    sends: 0,
    bytes: 0,
    thresholdCopies: 0,
    zerocopyBytes: 0,
    copiedBytes: 0,
    notifications: 0,
    zcCompleted: 0,
    recvMappedBytes: 0,
    recvCopiedBytes: 0,
  };
  /** Zerocopy receive was asked for. */
  receive = false;

  /** `threshold` was validated with the socket's options (validateSocketOptions). */
  constructor(host: ZeroCopyHost, threshold: number | undefined) {
    this.host = host;
    this.threshold = threshold ?? DEFAULT_ZEROCOPY_THRESHOLD;
  }

  /** `sock.sendZeroCopy(buf, opts)`. */
  send(buf: Uint8Array, opts?: ZeroCopySendOptions): Promise<ZeroCopyResult> | number {
    if (opts !== undefined) validateOptions(opts, ['id'], 'opts');
    if (!(buf instanceof Uint8Array)) {
      throw new InvalidArgumentError(
        'ERR_INVALID_ARG_TYPE',
        'The "buf" argument must be a Uint8Array.',
      );
    }
    const host = this.host;
    if (host.destroyed || host.writableEnded) {
      throw new ZerosockError(
        'ERR_ZEROSOCK_SOCKET_CLOSED',
        host.destroyed ? 'sendZeroCopy() on a closed socket' : 'sendZeroCopy() after end()',
      );
    }
    const wantId = opts?.id === true;
    const n = buf.byteLength;
    const entry: Entry = {
      jsId: this.jsNext,
      bytes: n,
      view: null,
      resolve: null,
      reject: null,
      done: false,
    };
    this.jsNext = (this.jsNext + 1) >>> 0;
    this.counters.sends++;
    this.counters.bytes += n;
    const promise = wantId
      ? null
      : new Promise<ZeroCopyResult>((resolve, reject) => {
          entry.resolve = resolve;
          entry.reject = reject;
        });
    // Settled at close with a rejection nobody may be waiting for: never an unhandled one.
    promise?.catch(() => {});
    if (n === 0 || n < this.threshold) {
      if (n > 0) host.send(buf);
      this.counters.thresholdCopies++;
      this.counters.copiedBytes += n;
      this.copies.push(entry);
      if (!this.copiesQueued) {
        this.copiesQueued = true;
        queueMicrotask(() => this.settleCopies());
      }
    } else {
      const engine = host.engine;
      host.beforeZeroCopy(n);
      const lent = engine.takeLent(buf);
      if (lent !== null) {
        // A view of the running 'data' callback: its pool buffer goes to the send, and the
        // engine gives it back to the pool when the kernel lets go (after the callback the
        // receive side would have reused it while the kernel still read it).
        engine.submit(Sub.SendZcPool, host.id, lent[0], lent[1], lent[2], n);
        host.countForwarded(n);
      } else {
        const token = engine.native.pinZeroCopy(buf);
        engine.submit(Sub.SendZc, host.id, -1, token, n);
        entry.view = buf;
        markInFlight(buf);
      }
      this.zc.push(entry);
      this.engineNext = (this.engineNext + 1) >>> 0;
    }
    return promise ?? entry.jsId;
  }

  /** Engine sends `first..=last` completed (one ZC_DONE record). */
  onDone(first: number, last: number, copied: boolean): void {
    this.counters.notifications++;
    const from = (first - this.engineFront) >>> 0;
    const to = (last - this.engineFront) >>> 0;
    let runStart = -1;
    let runEnd = -1;
    for (let i = from; i <= to; i++) {
      const e = this.zc[this.head + i];
      if (e === undefined || e.done) continue;
      this.complete(e, copied);
      if (runStart >= 0 && e.jsId === runEnd + 1) runEnd = e.jsId;
      else {
        if (runStart >= 0) this.emitRange(runStart, runEnd, copied);
        runStart = runEnd = e.jsId;
      }
    }
    if (runStart >= 0) this.emitRange(runStart, runEnd, copied);
    this.trim();
  }

  private complete(e: Entry, copied: boolean): void {
    e.done = true;
    this.counters.zcCompleted++;
    if (copied) this.counters.copiedBytes += e.bytes;
    else this.counters.zerocopyBytes += e.bytes;
    if (e.view !== null) clearInFlight(e.view);
    e.view = null;
    e.resolve?.({ bytes: e.bytes, copied });
    e.resolve = e.reject = null;
  }

  private trim(): void {
    while (this.head < this.zc.length && this.zc[this.head].done) {
      this.head++;
      this.engineFront = (this.engineFront + 1) >>> 0;
    }
    if (this.head === this.zc.length) {
      this.zc = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.zc.length) {
      this.zc = this.zc.slice(this.head);
      this.head = 0;
    }
  }

  private emitRange(first: number, last: number, copied: boolean, err?: Error): void {
    if (this.host.listenerCount('zerocopy') > 0) {
      this.host.emit('zerocopy', first, last, copied, err);
    }
  }

  private settleCopies(): void {
    this.copiesQueued = false;
    const list = this.copies;
    this.copies = [];
    let runStart = -1;
    let runEnd = -1;
    for (const e of list) {
      e.done = true;
      e.resolve?.({ bytes: e.bytes, copied: true });
      if (runStart >= 0 && e.jsId === runEnd + 1) runEnd = e.jsId;
      else {
        if (runStart >= 0) this.emitRange(runStart, runEnd, true);
        runStart = runEnd = e.jsId;
      }
    }
    if (runStart >= 0) this.emitRange(runStart, runEnd, true);
  }

  /**
   * The socket closed (the engine reports that only once the kernel let go of every buffer):
   * every send not completed is rejected (`ERR_ZEROSOCK_SOCKET_CLOSED`) and its memory freed.
   */
  onClosed(cause?: Error): void {
    if (this.copiesQueued) this.settleCopies();
    const err = new ZerosockError(
      'ERR_ZEROSOCK_SOCKET_CLOSED',
      'the socket closed before the zerocopy send completed',
      cause ? { cause } : undefined,
    );
    let runStart = -1;
    let runEnd = -1;
    for (let i = this.head; i < this.zc.length; i++) {
      const e = this.zc[i];
      if (e.done) continue;
      e.done = true;
      if (e.view !== null) clearInFlight(e.view);
      e.view = null;
      e.reject?.(err);
      e.resolve = e.reject = null;
      if (runStart >= 0 && e.jsId === runEnd + 1) runEnd = e.jsId;
      else {
        if (runStart >= 0) this.emitRange(runStart, runEnd, false, err);
        runStart = runEnd = e.jsId;
      }
    }
    if (runStart >= 0) this.emitRange(runStart, runEnd, false, err);
    this.zc = [];
    this.head = 0;
  }

  /** A mapped receive chunk as a view (read-only memory; detached on release). */
  mappedView(token: number, len: number): Uint8Array {
    this.counters.recvMappedBytes += len;
    return new Uint8Array(this.host.engine.native.mappedBuffer(token), 0, len);
  }

  /** Bytes received by copy on a socket that asked for zerocopy receive. */
  countCopied(len: number): void {
    this.counters.recvCopiedBytes += len;
  }

  /** Counters for `sock.stats().zerocopy`. */
  stats(): ZeroCopyStats {
    const c = this.counters;
    let inFlight = this.copies.length;
    for (let i = this.head; i < this.zc.length; i++) if (!this.zc[i].done) inFlight++;
    return {
      sends: c.sends,
      bytes: c.bytes,
      thresholdCopies: c.thresholdCopies,
      zerocopyBytes: c.zerocopyBytes,
      copiedBytes: c.copiedBytes,
      notifications: c.notifications,
      sendsPerNotification: c.notifications === 0 ? 0 : c.zcCompleted / c.notifications,
      inFlight,
      recvMappedBytes: c.recvMappedBytes,
      recvCopiedBytes: c.recvCopiedBytes,
    };
  }
}

/** Zerocopy counters of a socket that never used zerocopy. */
export function emptyZeroCopyStats(): ZeroCopyStats {
  return {
    sends: 0,
    bytes: 0,
    thresholdCopies: 0,
    zerocopyBytes: 0,
    copiedBytes: 0,
    notifications: 0,
    sendsPerNotification: 0,
    inFlight: 0,
    recvMappedBytes: 0,
    recvCopiedBytes: 0,
  };
}
