/**
 * The read side of one socket: received bytes arrive as views into pool memory, lent to the
 * 'data' listeners for the length of the callback. Like a node stream, data flows once a 'data'
 * listener is added or `resume()` is called; until then, and while paused, views wait in a
 * backlog and the engine stops reading (the kernel holds the rest). The peer's FIN waits
 * behind the backlog.
 */
import { Sub, type Engine } from '../../core/engine';
import type { Lifecycle } from './lifecycle';
import type { SocketCounters } from './stats';

/** A received view waiting in the backlog, with its pool buffer's handle. */
interface Pending {
  view: Uint8Array;
  lo: number;
  hi: number;
}

/** What the receiver emits on (the socket). */
export interface ReceiverEvents {
  emit(event: 'data', view: Uint8Array): boolean;
}

export class Receiver {
  private readonly engine: Engine;
  private readonly id: number;
  private readonly counters: SocketCounters;
  private readonly life: Lifecycle;
  private readonly events: ReceiverEvents;
  private backlog: Pending[] | null = null;
  private paused = false;
  /** Like a node stream: data flows once a 'data' listener is added or resume() is called. */
  private flowing = false;
  private eofPending = false;

  constructor(
    engine: Engine,
    id: number,
    counters: SocketCounters,
    life: Lifecycle,
    events: ReceiverEvents,
  ) {
    this.engine = engine;
    this.id = id;
    this.counters = counters;
    this.life = life;
    this.events = events;
  }

  /** A 'data' listener was added: data flows from now on. */
  onDataListener(): void {
    this.flowing = true;
    if (this.backlog !== null && !this.paused) queueMicrotask(() => this.drainBacklog());
  }

  /** `sock.pause()`: no 'data' (and no reading) until `resume()`. */
  pause(): void {
    if (!this.paused && !this.life.destroyed) {
      this.paused = true;
      this.engine.submit(Sub.Pause, this.id);
    }
  }

  /** `sock.resume()`: 'data' again; also makes data flow when nobody listens (it is dropped). */
  resume(): void {
    this.flowing = true;
    if (this.backlog !== null && !this.paused && !this.life.destroyed) {
      queueMicrotask(() => this.drainBacklog());
      return;
    }
    if (this.paused && !this.life.destroyed) {
      this.paused = false;
      if (this.backlog !== null) queueMicrotask(() => this.drainBacklog());
      else this.engine.submit(Sub.Resume, this.id);
    }
  }

  /** A DATA record: `len` bytes at `offset` of pool region `region`, buffer handle `lo`/`hi`. */
  onData(region: number, offset: number, len: number, lo: number, hi: number): void {
    this.onView(new Uint8Array(this.engine.region(region), offset, len), lo, hi);
  }

  /** Received bytes as a view (pool memory, or mapped pages on zerocopy receive). */
  onView(view: Uint8Array, lo: number, hi: number): void {
    this.counters.bytesReceived += view.byteLength;
    if (this.life.destroyed) {
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

  /** The peer's FIN: true if it must wait behind the backlog (then it follows the last view). */
  deferEof(): boolean {
    if (this.backlog === null) return false;
    this.eofPending = true;
    return true;
  }

  /** The socket is going away: every waiting view's buffer goes back to the pool. */
  releaseBacklog(): void {
    const list = this.backlog;
    this.backlog = null;
    if (list === null) return;
    for (const p of list) this.engine.submit(Sub.Release, 0, p.lo, p.hi);
  }

  private deliver(view: Uint8Array, lo: number, hi: number): void {
    this.counters.dataEvents++;
    this.engine.lend(view, lo, hi);
    try {
      this.events.emit('data', view);
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
      if (this.life.destroyed) {
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
    if (!this.life.destroyed) this.engine.submit(Sub.Resume, this.id);
    if (this.eofPending) {
      this.eofPending = false;
      this.life.onEof();
    }
  }
}
