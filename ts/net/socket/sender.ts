/**
 * The write side of one socket. Small sends are copied into a cork buffer (pool memory) in JS —
 * no native call — and sealed into one SEND record at the end of the tick, or held while an
 * earlier flush is still with the kernel (autocork; the rules are in cork-policy.ts). Large
 * sends go straight to native. Counts the bytes the kernel has not taken yet: `send()` returns
 * false past `highWaterMark`, and 'drain' follows once they drop below a quarter of it.
 */
import { Sub, type Engine, type PoolSlice } from '../../core/engine';
import { InvalidArgumentError, ZerosockError } from '../../core/errors';
import {
  Append,
  Tick,
  appendDecision,
  endOfTick,
  releasesOnCompletion,
  type CorkPolicy,
  type FlushReason,
} from './cork-policy';
import type { Lifecycle } from './lifecycle';
import type { SocketOptions } from './options';
import type { SocketCounters } from './stats';

/** Bytes at or above which `send()` bypasses the cork buffer. */
const LARGE_SEND = 16 * 1024;
/**
 * Bytes at or above which `send()` of a view zerosock lent (a 'data' view, during its callback)
 * hands the view's pool buffer to the send instead of copying it (forwarding).
 */
export const FORWARD_MIN = 4 * 1024;
/** The pool's size class of cork buffers (64 KiB). */
const LARGE_CLASS = 1;

/** What the sender emits on (the socket). */
export interface SenderEvents {
  emit(event: 'drain'): boolean;
}

export class Sender {
  /** Bytes accepted by `send()` that the kernel has not taken yet (`sock.writableLength`). */
  pendingBytes = 0;
  private readonly engine: Engine;
  private readonly id: number;
  private readonly counters: SocketCounters;
  private readonly life: Lifecycle;
  private readonly events: SenderEvents;
  private readonly corkMax: number;
  private readonly corkEnabled: boolean;
  private readonly corkDelayMs: number;
  private readonly policy: CorkPolicy;
  private readonly highWaterMark: number;
  private corkTimer: NodeJS.Timeout | null = null;
  private cork: PoolSlice | null = null;
  private corkUsed = 0;
  private needDrain = false;
  private sealHook: (() => void) | null = null;

  constructor(
    engine: Engine,
    id: number,
    options: SocketOptions,
    counters: SocketCounters,
    life: Lifecycle,
    events: SenderEvents,
  ) {
    this.engine = engine;
    this.id = id;
    this.counters = counters;
    this.life = life;
    this.events = events;
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
  }

  /** `sock.send(data)` once the lifecycle allowed it; false when past `highWaterMark`. */
  send(data: Uint8Array | string): boolean {
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
    if (n >= FORWARD_MIN && this.forward(data)) return this.afterSend(n);
    if (appendDecision(this.policy, this.corkUsed, n) === Append.Bypass) {
      this.sendLarge(data);
    } else {
      const dst = this.corkRoom(n);
      dst.view.set(data, this.corkUsed);
      this.corkUsed += n;
    }
    return this.afterSend(n);
  }

  private sendString(s: string): boolean {
    this.counters.messagesSent++;
    // Upper bound of the UTF-8 size; exact size only when it might not fit.
    if (s.length * 3 <= this.corkMax && s.length * 3 < LARGE_SEND) {
      const dst = this.corkRoom(s.length * 3);
      const { written } = encoder.encodeInto(s, dst.view.subarray(this.corkUsed));
      this.corkUsed += written;
      return this.afterSend(written);
    }
    const bytes = Buffer.from(s, 'utf8');
    if (bytes.byteLength === 0) return this.pendingBytes < this.highWaterMark;
    if (appendDecision(this.policy, this.corkUsed, bytes.byteLength) === Append.Bypass)
      this.sendLarge(bytes);
    else {
      const dst = this.corkRoom(bytes.byteLength);
      dst.view.set(bytes, this.corkUsed);
      this.corkUsed += bytes.byteLength;
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

  /**
   * End of tick: flush what is corked, unless an earlier flush is still with the kernel — then
   * hold (autocork) until it completes or `maxDelayUs` passes.
   */
  private endOfTick(): void {
    const inFlight = this.pendingBytes - this.corkUsed;
    const tick = endOfTick(this.policy, this.corkUsed, inFlight, this.life.writableEnded);
    if (tick === Tick.Idle) return;
    if (tick === Tick.Hold) {
      this.corkTimer ??= setTimeout(() => {
        this.corkTimer = null;
        if (this.corkUsed > 0 && !this.life.destroyed) {
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
    const counters = this.counters;
    counters.flushReasons[reason]++;
    counters.flushes++;
    counters.flushedBytes += this.corkUsed;
    this.cork = null;
    this.corkUsed = 0;
  }

  /**
   * Forwarding: `data` lies in the pool buffer lent to the running 'data' callback, so that
   * buffer goes to this socket's send as it is (after what is corked) and comes back to the
   * pool when the kernel has taken the bytes. False when `data` is not such a view.
   */
  private forward(data: Uint8Array): boolean {
    const lent = this.engine.takeLent(data);
    if (lent === null) return false;
    this.seal('largeSend');
    this.engine.submit(Sub.Send, this.id, lent[0], lent[1], lent[2], data.byteLength);
    this.counters.forwardedBytes += data.byteLength;
    return true;
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

  /** Corked bytes go first; `n` zerocopy bytes now wait for the kernel. */
  beforeZeroCopy(n: number): void {
    this.seal('largeSend');
    this.pendingBytes += n;
    this.counters.bytesSent += n;
  }

  /** `sock.flush()`: the corked bytes are sealed now, not at the end of the tick. */
  flush(): void {
    this.seal('explicit');
  }

  /** `end()`: what is corked leaves, the cork buffer goes back, and the FIN is queued. */
  end(): void {
    this.seal('end');
    this.dropCork();
    this.engine.submit(Sub.Shutdown, this.id);
  }

  /** `destroy()`: corked bytes are dropped and the autocork timer stops. */
  abort(): void {
    if (this.corkTimer !== null) clearTimeout(this.corkTimer);
    this.corkTimer = null;
    this.dropCork();
  }

  /** The socket closed: no more end-of-tick sealing. */
  detach(): void {
    if (this.sealHook !== null) this.engine.offBeforeFlush(this.sealHook);
  }

  /** The kernel took `bytes` (a SENT record), or they will never be sent (a short file). */
  onSent(bytes: number): void {
    this.pendingBytes = Math.max(0, this.pendingBytes - bytes);
    // Autocork: the flush we were waiting for completed; send what piled up meanwhile.
    const inFlight = this.pendingBytes - this.corkUsed;
    if (releasesOnCompletion(this.corkUsed, inFlight, this.corkTimer !== null)) {
      this.seal('completion');
      this.engine.scheduleFlush();
    }
    if (this.needDrain && this.pendingBytes < this.highWaterMark / 4) {
      this.needDrain = false;
      this.events.emit('drain');
    }
    // The one place pending bytes go down: after end(), 'finish' and the close may be due now
    // (a sent record, a file that came up short, …: none may forget to look).
    this.life.maybeClose();
  }

  /** Where the unsent bytes are (JS cork, native + kernel), or undefined if none. */
  describeWrites(): string | undefined {
    if (this.pendingBytes === 0 && this.corkUsed === 0) return undefined;
    return `${this.corkUsed} B in the JS cork, ${this.pendingBytes - this.corkUsed} B handed to native (queued or in the kernel)`;
  }

  private dropCork(): void {
    const c = this.cork;
    if (c === null) return;
    if (this.corkUsed > 0 && !this.life.destroyed) {
      this.seal('end');
      return;
    }
    this.engine.submit(Sub.Drop, 0, c.handleLo, c.handleHi);
    this.cork = null;
    this.corkUsed = 0;
  }
}

const encoder = new TextEncoder();
