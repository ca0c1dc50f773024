/**
 * `SpscRing`: the single-producer single-consumer ring of byte messages (kind 1) of
 * docs/LAYOUT.md, over a `SharedArrayBuffer` (across worker_threads) or an `ArrayBuffer`
 * (native memory handed to JS). Rust's `zerosock_ring::ByteRing` reads and writes the same bytes,
 * so a ring can be shared between JS threads and native threads.
 *
 * Header words are only touched with `Atomics`; message bytes are plain memory whose hand-over
 * is ordered by the `head` and `tail` words. Each side caches the other side's position and
 * reloads it only when the cached value shows too little space or data.
 */
import { types } from 'node:util';
import { InvalidArgumentError, ZerosockError } from '../core/errors';
import type { ZerosockErrorCode } from '../core/errors';

const MAGIC = 0x5a535247; // "ZSRG" little-endian
const VERSION = 1;
const KIND_BYTES = 1;
const HEADER_LEN = 384;
const MIN_CAPACITY = 64;
const MAX_CAPACITY = 2 ** 30;
const WRAP_MARKER = -1; // 0xFFFF_FFFF read through an Int32Array

// Int32Array indexes of the header fields.
const I_MAGIC = 0;
const I_VERSION = 1;
const I_KIND = 2;
const I_CAPACITY = 3;
const I_RECORD_SIZE = 4;
const I_HEAD = 32;
const I_WAITING = 33;
const I_TAIL = 64;

/** Codes a ring operation can fail with (besides argument errors). */
export type RingErrorCode =
  | 'ERR_ZEROSOCK_RING_CAPACITY'
  | 'ERR_ZEROSOCK_RING_MESSAGE_TOO_LARGE'
  | 'ERR_ZEROSOCK_RING_BAD_HEADER'
  | 'ERR_ZEROSOCK_RING_BAD_MEMORY'
  | 'ERR_ZEROSOCK_RING_CORRUPT';

function ringError(code: RingErrorCode, message: string): ZerosockError {
  return new ZerosockError(code as ZerosockErrorCode, message);
}

function corrupt(reason: string): ZerosockError {
  return ringError('ERR_ZEROSOCK_RING_CORRUPT', `ring corrupted by peer: ${reason}`);
}

function notBytes(name: string, value: unknown): InvalidArgumentError {
  const got =
    value === null
      ? 'null'
      : typeof value === 'object'
        ? `an instance of ${(value as object).constructor?.name ?? 'Object'}`
        : `type ${typeof value}`;
  return new InvalidArgumentError(
    'ERR_INVALID_ARG_TYPE',
    `The "${name}" argument must be an instance of Uint8Array. Received ${got}`,
  );
}

type WaitAsyncResult =
  | { async: false; value: 'not-equal' | 'timed-out' }
  | { async: true; value: Promise<'ok' | 'timed-out'> };
/** `Atomics.waitAsync` (Node >= 16; not in the ES2022 lib typings). */
const waitAsync = (
  Atomics as unknown as {
    waitAsync(i32: Int32Array, index: number, value: number, timeoutMs?: number): WaitAsyncResult;
  }
).waitAsync;

const MAX_TIMER_MS = 2 ** 31 - 1;

/** Copies up to this many bytes get their own array (V8 keeps them on its heap). */
const SMALL_COPY = 64;
/** Size of the chunks longer copies are carved from. */
const POOL_CHUNK = 64 * 1024;
let copyPool = new ArrayBuffer(0);
let copyPoolUsed = POOL_CHUNK;

/** Copies into or out of shared memory at least this long may be staged (see `copyIn`). */
const STAGE_MIN = 128;
/** Staging buffer size (copies are staged in chunks of this size). */
const STAGE_LEN = 64 * 1024;
const stageBuffer = new ArrayBuffer(STAGE_LEN + 8);

/** Region handed from {@link SpscRing.from} to the constructor (attach instead of allocate). */
let attaching: { buffer: SharedArrayBuffer | ArrayBuffer; offset: number } | null = null;

function isValidCapacity(capacity: number): boolean {
  return (
    Number.isInteger(capacity) &&
    capacity >= MIN_CAPACITY &&
    capacity <= MAX_CAPACITY &&
    (capacity & (capacity - 1)) === 0
  );
}

/** Throws `ERR_OUT_OF_RANGE` unless `value` is an integer >= 0. */
function checkIndex(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0) {
    throw new InvalidArgumentError(
      'ERR_OUT_OF_RANGE',
      `The "${name}" argument must be an integer >= 0. Received ${String(value)}`,
    );
  }
}

/** Bytes a message of `len` payload bytes occupies: length word + payload rounded up to 4. */
function footprint(len: number): number {
  return 4 + ((len + 3) & ~3);
}

/** Memory a ring can live in: a whole buffer, or a view selecting a region of one. */
export type RingMemory = SharedArrayBuffer | ArrayBuffer | ArrayBufferView;

/**
 * Zero-copy visitor of {@link SpscRing.popWith}: the message is
 * `bytes.subarray(offset, offset + length)`, valid only until the callback returns.
 */
export type RingVisitor = (bytes: Uint8Array, offset: number, length: number) => void;

/**
 * A lock-free single-producer single-consumer ring of byte messages in shared memory.
 *
 * One thread (or native thread) pushes, one consumes; each party attaches its own `SpscRing`
 * object to the same memory (`SpscRing.from(ring.buffer)` after `postMessage`). Messages are
 * `Uint8Array`s of `0..maxMessageLength` bytes (`capacity / 2 - 4`); `push` returns `false`
 * instead of blocking when the ring is full, `pop` returns `null` when it is empty, and
 * {@link SpscRing.waitForData} sleeps (without spinning) until the producer publishes.
 *
 * A peer that writes garbage positions or lengths makes the next operation throw
 * `ERR_ZEROSOCK_RING_CORRUPT`; no operation ever loops forever on bad data.
 */
export class SpscRing {
  /** The buffer the ring lives in (allocated, or the one given to / viewed by `from`). */
  readonly buffer: SharedArrayBuffer | ArrayBuffer;
  /** Where the ring (its header) starts in {@link SpscRing.buffer}: 0 unless attached to a view. */
  readonly byteOffset: number;
  /** Data capacity in bytes (a power of two in 64..2^30). */
  readonly capacity: number;
  /** Longest message accepted: `capacity / 2 - 4` bytes. */
  readonly maxMessageLength: number;

  private readonly shared: boolean;
  private readonly mask: number;
  private readonly i32: Int32Array; // header words
  private readonly data: Uint8Array; // data area
  private readonly dataBase: number; // byte offset of the data area in `buffer`
  private readonly data32: Int32Array; // data area as words (length prefixes)
  // Producer side: our published tail and the last head we loaded.
  private tail: number;
  private headCache: number;
  // Consumer side: our published head and the last tail we loaded.
  private head: number;
  private tailCache: number;
  // Result of `locate`: payload length and the position after the message.
  private foundLen = 0;
  private foundNext = 0;

  /**
   * Allocates a `SharedArrayBuffer` of `384 + capacity` bytes and initialises an empty ring.
   *
   * @throws `ERR_INVALID_ARG_TYPE` unless `capacity` is a number;
   *   `ERR_ZEROSOCK_RING_CAPACITY` unless it is a power of two in 64..2^30.
   */
  constructor(capacity: number) {
    if (typeof capacity !== 'number') {
      throw new InvalidArgumentError(
        'ERR_INVALID_ARG_TYPE',
        `The "capacity" argument must be a number. Received type ${typeof capacity}`,
      );
    }
    if (!isValidCapacity(capacity)) {
      throw ringError(
        'ERR_ZEROSOCK_RING_CAPACITY',
        `capacity ${capacity} must be a power of two in ${MIN_CAPACITY}..=${MAX_CAPACITY}`,
      );
    }
    let buffer: SharedArrayBuffer | ArrayBuffer;
    let base = 0;
    const region = attaching;
    attaching = null;
    if (region === null) {
      buffer = new SharedArrayBuffer(HEADER_LEN + capacity);
      initHeader(new Int32Array(buffer, 0, HEADER_LEN / 4), capacity);
    } else {
      buffer = region.buffer;
      base = region.offset;
    }
    this.buffer = buffer;
    this.byteOffset = base;
    this.shared = types.isSharedArrayBuffer(buffer);
    this.capacity = capacity;
    this.maxMessageLength = capacity / 2 - 4;
    this.mask = capacity - 1;
    this.i32 = new Int32Array(buffer, base, HEADER_LEN / 4);
    this.dataBase = base + HEADER_LEN;
    this.data = new Uint8Array(buffer, base + HEADER_LEN, capacity);
    this.data32 = new Int32Array(buffer, base + HEADER_LEN, capacity / 4);
    this.head = Atomics.load(this.i32, I_HEAD) >>> 0;
    this.tail = Atomics.load(this.i32, I_TAIL) >>> 0;
    this.headCache = this.head;
    this.tailCache = this.tail;
  }

  /**
   * Attaches to a ring already initialised in `memory` (by JS or by Rust), keeping its contents.
   * `memory` is a `SharedArrayBuffer`/`ArrayBuffer` holding the ring from byte 0, or a view
   * (e.g. `Uint8Array`) whose bytes hold it.
   *
   * @throws `ERR_INVALID_ARG_TYPE` for anything but a buffer or view;
   *   `ERR_ZEROSOCK_RING_BAD_MEMORY` when the region is misaligned or shorter than the header or
   *   than `384 + capacity`; `ERR_ZEROSOCK_RING_BAD_HEADER` for a wrong magic, version, kind,
   *   capacity or record size, or inconsistent head/tail.
   */
  static from(memory: RingMemory): SpscRing {
    let buffer: SharedArrayBuffer | ArrayBuffer;
    let offset = 0;
    let length: number;
    if (ArrayBuffer.isView(memory)) {
      buffer = memory.buffer;
      offset = memory.byteOffset;
      length = memory.byteLength;
    } else if (types.isAnyArrayBuffer(memory)) {
      buffer = memory;
      length = memory.byteLength;
    } else {
      throw new InvalidArgumentError(
        'ERR_INVALID_ARG_TYPE',
        'The "memory" argument must be a SharedArrayBuffer, an ArrayBuffer or an ArrayBufferView',
      );
    }
    if (offset % 4 !== 0) {
      throw ringError('ERR_ZEROSOCK_RING_BAD_MEMORY', 'bad ring memory: not 4-byte aligned');
    }
    if (length < HEADER_LEN + MIN_CAPACITY) {
      throw ringError(
        'ERR_ZEROSOCK_RING_BAD_MEMORY',
        `bad ring memory: ${length} bytes is shorter than header + minimum capacity`,
      );
    }
    const header = new Int32Array(buffer, offset, HEADER_LEN / 4);
    const word = (i: number): number => Atomics.load(header, i) >>> 0;
    const bad = (what: string): ZerosockError =>
      ringError('ERR_ZEROSOCK_RING_BAD_HEADER', `bad ring header: ${what}`);
    if (word(I_MAGIC) !== MAGIC) throw bad('magic');
    if (word(I_VERSION) !== VERSION) throw bad('version');
    if (word(I_KIND) !== KIND_BYTES) throw bad('kind');
    const capacity = word(I_CAPACITY);
    if (!isValidCapacity(capacity)) throw bad('capacity');
    if (length < HEADER_LEN + capacity) {
      throw ringError(
        'ERR_ZEROSOCK_RING_BAD_MEMORY',
        `bad ring memory: ${length} bytes is shorter than header + capacity ${capacity}`,
      );
    }
    if (word(I_RECORD_SIZE) !== 0) throw bad('record_size');
    const head = word(I_HEAD);
    const tail = word(I_TAIL);
    if ((tail - head) >>> 0 > capacity || (head & 3) !== 0 || (tail & 3) !== 0) {
      throw bad('head/tail');
    }
    attaching = { buffer, offset };
    try {
      return new SpscRing(capacity);
    } finally {
      attaching = null;
    }
  }

  /** Bytes in use (messages plus their framing), as seen right now. */
  get size(): number {
    const tail = Atomics.load(this.i32, I_TAIL);
    const head = Atomics.load(this.i32, I_HEAD);
    return (tail - head) >>> 0;
  }

  /** Whether the memory is a `SharedArrayBuffer` (only then can a consumer sleep in `wait*`). */
  get isShared(): boolean {
    return this.shared;
  }

  // ---------------------------------------------------------------- producer

  /**
   * Pushes one message (copied into the ring). Returns `false`, writing nothing, when the ring
   * has no room for it right now.
   *
   * @throws `ERR_INVALID_ARG_TYPE` unless `bytes` is a `Uint8Array` (a `Buffer` is one);
   *   `ERR_ZEROSOCK_RING_MESSAGE_TOO_LARGE` when longer than {@link SpscRing.maxMessageLength};
   *   `ERR_ZEROSOCK_RING_CORRUPT` when the consumer broke the protocol.
   */
  push(bytes: Uint8Array): boolean {
    if (!(bytes instanceof Uint8Array)) throw notBytes('bytes', bytes);
    const len = bytes.length;
    if (len > this.maxMessageLength) throw this.tooLarge(len);
    const next = this.write(this.tail, bytes, len);
    if (next < 0) return false;
    this.publish(next);
    return true;
  }

  /**
   * Pushes as many of `list[start..end)` as fit, in order, publishing them with one store.
   * Returns how many were pushed. Every message is checked first: if one is invalid, nothing
   * is pushed and the error is thrown.
   *
   * @throws as {@link SpscRing.push}.
   */
  pushBatch(list: readonly Uint8Array[], start = 0, end?: number): number {
    if (!Array.isArray(list)) {
      throw new InvalidArgumentError(
        'ERR_INVALID_ARG_TYPE',
        'The "list" argument must be an array of Uint8Array',
      );
    }
    checkIndex('start', start);
    if (end === undefined || end > list.length) end = list.length;
    else checkIndex('end', end);
    const max = this.maxMessageLength;
    for (let i = start; i < end; i++) {
      const m = list[i];
      if (!(m instanceof Uint8Array)) throw notBytes(`list[${i}]`, m);
      if (m.length > max) throw this.tooLarge(m.length);
    }
    let tail = this.tail;
    let i = start;
    for (; i < end; i++) {
      const m = list[i];
      const next = this.write(tail, m, m.length);
      if (next < 0) break;
      tail = next;
    }
    if (i > start) this.publish(tail);
    return i - start;
  }

  /**
   * Wakes a consumer sleeping in {@link SpscRing.waitForData} / {@link SpscRing.waitSync}.
   * `push` does this itself when needed; call it for a producer that cannot (e.g. a native
   * thread that reported "consumer waiting").
   */
  notify(): void {
    Atomics.notify(this.i32, I_TAIL);
  }

  private tooLarge(len: number): ZerosockError {
    return ringError(
      'ERR_ZEROSOCK_RING_MESSAGE_TOO_LARGE',
      `message of ${len} bytes exceeds the maximum ${this.maxMessageLength}`,
    );
  }

  /** Writes one message after position `tail`; returns the position after it, or -1 if full. */
  private write(tail: number, bytes: Uint8Array, len: number): number {
    const total = footprint(len);
    const off = tail & this.mask;
    const toEnd = this.capacity - off;
    let need = total;
    let start = off;
    if (total > toEnd) {
      need = toEnd + total;
      start = 0;
    }
    if (this.capacity - ((tail - this.headCache) >>> 0) < need && !this.hasRoom(tail, need)) {
      return -1;
    }
    const data32 = this.data32;
    if (start !== off) data32[off >> 2] = WRAP_MARKER;
    data32[start >> 2] = len;
    this.copyIn(start + 4, bytes, len);
    return (tail + need) >>> 0;
  }

  /** Reloads `head`; true when `need` bytes are free after position `tail`. */
  private hasRoom(tail: number, need: number): boolean {
    const head = Atomics.load(this.i32, I_HEAD) >>> 0;
    const cached = this.headCache;
    // The consumer only moves head forward, up to our published tail.
    if ((head - cached) >>> 0 > (this.tail - cached) >>> 0 || (head & 3) !== 0) {
      throw corrupt('head moved outside the written range');
    }
    this.headCache = head;
    return this.capacity - ((tail - head) >>> 0) >= need;
  }

  /** Publishes everything written before `tail`, then wakes a sleeping consumer. */
  private publish(tail: number): void {
    this.tail = tail;
    const i32 = this.i32;
    Atomics.store(i32, I_TAIL, tail);
    if (Atomics.load(i32, I_WAITING) !== 0 && Atomics.exchange(i32, I_WAITING, 0) !== 0) {
      Atomics.notify(i32, I_TAIL);
    }
  }

  // ---------------------------------------------------------------- consumer

  /**
   * Pops one message as a copy (a new `Uint8Array`), or `null` when the ring is empty.
   *
   * @throws `ERR_ZEROSOCK_RING_CORRUPT` when the producer broke the protocol.
   */
  pop(): Uint8Array | null {
    const off = this.locate(this.head);
    if (off < 0) return null;
    const out = this.copy(off, this.foundLen);
    this.release(this.foundNext);
    return out;
  }

  /**
   * Pops one message by copying it into `target` at `offset` (no allocation). Returns its
   * length, or -1 when the ring is empty.
   *
   * @throws `ERR_OUT_OF_RANGE` when the message does not fit (it stays in the ring);
   *   `ERR_ZEROSOCK_RING_CORRUPT` as {@link SpscRing.pop}.
   */
  popInto(target: Uint8Array, offset = 0): number {
    if (!(target instanceof Uint8Array)) throw notBytes('target', target);
    checkIndex('offset', offset);
    const off = this.locate(this.head);
    if (off < 0) return -1;
    const len = this.foundLen;
    if (offset + len > target.length) {
      throw new InvalidArgumentError(
        'ERR_OUT_OF_RANGE',
        `a message of ${len} bytes does not fit into the target at offset ${offset}`,
      );
    }
    this.copyOut(off, target, offset, len);
    this.release(this.foundNext);
    return len;
  }

  /**
   * Pops up to `max` messages as copies, releasing their space with one store.
   *
   * @throws `ERR_ZEROSOCK_RING_CORRUPT` when the producer broke the protocol before the first
   *   message (messages read before a corruption are returned; the next call throws).
   */
  popBatch(max = Infinity): Uint8Array[] {
    const out: Uint8Array[] = [];
    let head = this.head;
    try {
      while (out.length < max) {
        const off = this.locate(head);
        if (off < 0) break;
        out.push(this.copy(off, this.foundLen));
        head = this.foundNext;
      }
    } catch (err) {
      if (out.length === 0) throw err;
    }
    if (head !== this.head) this.release(head);
    return out;
  }

  /**
   * Zero-copy, zero-allocation batch pop: calls `visit(bytes, offset, length)` for up to `max`
   * messages, where `bytes` is the ring's data area and the message is
   * `bytes.subarray(offset, offset + length)` — valid only during the call (don't keep it,
   * and don't call this ring's consumer methods from `visit`).
   * The space is released with one store after the last call. Returns how many were visited.
   * If `visit` throws, or the producer broke the protocol (`ERR_ZEROSOCK_RING_CORRUPT`), the
   * messages visited before are released and the error propagates.
   */
  popWith(visit: RingVisitor, max = Infinity): number {
    if (typeof visit !== 'function') {
      throw new InvalidArgumentError(
        'ERR_INVALID_ARG_TYPE',
        'The "visit" argument must be a function',
      );
    }
    const data = this.data;
    let head = this.head;
    let n = 0;
    try {
      while (n < max) {
        const off = this.locate(head);
        if (off < 0) break;
        const next = this.foundNext;
        visit(data, off, this.foundLen);
        head = next;
        n++;
      }
    } catch (err) {
      if (head !== this.head) this.release(head);
      throw err;
    }
    if (head !== this.head) this.release(head);
    return n;
  }

  /**
   * Waits until a message is available or `timeoutMs` passes (default: forever), without
   * spinning: `Atomics.waitAsync` on the `tail` word, with the consumer-waiting flag of
   * LAYOUT.md so producers notify only a sleeping consumer. Resolves `true` when data is there,
   * `false` on timeout. Over a non-shared `ArrayBuffer` (native memory) it polls with short
   * timers instead, since waiting needs shared memory. Like pending I/O, a wait keeps the
   * event loop alive until it resolves.
   */
  async waitForData(timeoutMs = Infinity): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    let pollMs = 0;
    const i32 = this.i32;
    for (;;) {
      if (this.available() > 0) return true;
      const remaining = deadline - performance.now();
      if (remaining <= 0) return false;
      if (!this.shared) {
        // Poll: once on the next turn of the event loop, then with timers of 1, 2, 4, 8 ms.
        if (pollMs === 0) await new Promise((resolve) => setImmediate(resolve));
        else await new Promise((resolve) => setTimeout(resolve, Math.min(remaining, pollMs)));
        pollMs = pollMs === 0 ? 1 : Math.min(pollMs * 2, 8);
        continue;
      }
      Atomics.store(i32, I_WAITING, 1);
      const tail = Atomics.load(i32, I_TAIL);
      if (tail >>> 0 === this.head) {
        const r = waitAsync(i32, I_TAIL, tail, remaining === Infinity ? undefined : remaining);
        if (r.async) {
          // A pending Atomics.waitAsync neither keeps Node's event loop alive nor reliably
          // resolves on its own timeout once nothing else is pending: a timer does both, so an
          // awaited wait behaves like any other pending I/O.
          let timer: NodeJS.Timeout | undefined;
          const timedOut = new Promise((resolve) => {
            timer = setTimeout(resolve, Math.min(remaining, MAX_TIMER_MS));
          });
          try {
            await Promise.race([r.value, timedOut]);
          } finally {
            clearTimeout(timer);
          }
        }
      }
      Atomics.store(i32, I_WAITING, 0);
    }
  }

  /**
   * Synchronous form of {@link SpscRing.waitForData} for worker threads (blocks the thread in
   * `Atomics.wait`). Returns `true` when data is there, `false` on timeout.
   *
   * @throws `ERR_INVALID_ARG_VALUE` over a non-shared `ArrayBuffer` (it cannot be waited on).
   */
  waitSync(timeoutMs = Infinity): boolean {
    if (!this.shared) {
      throw new InvalidArgumentError(
        'ERR_INVALID_ARG_VALUE',
        'waitSync needs a ring in a SharedArrayBuffer',
      );
    }
    const deadline = performance.now() + timeoutMs;
    const i32 = this.i32;
    for (;;) {
      if (this.available() > 0) return true;
      const remaining = deadline - performance.now();
      if (remaining <= 0) return false;
      Atomics.store(i32, I_WAITING, 1);
      const tail = Atomics.load(i32, I_TAIL);
      if (tail >>> 0 === this.head) Atomics.wait(i32, I_TAIL, tail, remaining);
      Atomics.store(i32, I_WAITING, 0);
    }
  }

  /**
   * Waits (as {@link SpscRing.waitForData}) and pops one message; `null` on timeout.
   *
   * @throws `ERR_ZEROSOCK_RING_CORRUPT` as {@link SpscRing.pop}.
   */
  async popAsync(timeoutMs = Infinity): Promise<Uint8Array | null> {
    const now = this.pop();
    if (now !== null) return now;
    if (!(await this.waitForData(timeoutMs))) return null;
    return this.pop();
  }

  /** A view of `len` data bytes at data offset `off` (cheaper to make than `subarray`). */
  private view(off: number, len: number): Uint8Array {
    return new Uint8Array(this.buffer, this.dataBase + off, len);
  }

  // V8 copies into or out of shared memory with a "relaxed" memcpy that moves 8-byte words only
  // when source and destination are equally aligned modulo 8, and single bytes otherwise
  // (about 3.5x slower). Payloads sit at 4 mod 8 half the time, so longer misaligned copies go
  // through a non-shared staging buffer placed at the ring side's alignment: one plain memmove
  // plus one word-wise relaxed copy. (Backing stores are at least 8-aligned.)

  /** Copies `bytes` (`len` bytes) to data offset `off`. */
  private copyIn(off: number, bytes: Uint8Array, len: number): void {
    const align = (this.dataBase + off) & 7;
    if (!this.shared || len < STAGE_MIN || ((bytes.byteOffset - align) & 7) === 0) {
      this.data.set(bytes, off);
      return;
    }
    for (let done = 0; done < len; done += STAGE_LEN) {
      const n = Math.min(STAGE_LEN, len - done);
      const stage = new Uint8Array(stageBuffer, align, n);
      stage.set(n === len ? bytes : bytes.subarray(done, done + n));
      this.data.set(stage, off + done);
    }
  }

  /** Copies `len` bytes at data offset `off` into `target` at `at`. */
  private copyOut(off: number, target: Uint8Array, at: number, len: number): void {
    const align = (this.dataBase + off) & 7;
    if (!this.shared || len < STAGE_MIN || ((target.byteOffset + at - align) & 7) === 0) {
      target.set(this.view(off, len), at);
      return;
    }
    for (let done = 0; done < len; done += STAGE_LEN) {
      const n = Math.min(STAGE_LEN, len - done);
      const stage = new Uint8Array(stageBuffer, align, n);
      stage.set(this.view(off + done, n));
      target.set(stage, at + done);
    }
  }

  /**
   * A copy of `len` data bytes at `off`. Up to 64 bytes it is its own (on-heap) array; longer
   * copies are carved out of a shared 64 KiB chunk, at the payload's alignment modulo 8, which
   * is much cheaper than allocating a backing store per message (the same trade-off as
   * `Buffer.allocUnsafe`'s pool).
   */
  private copy(off: number, len: number): Uint8Array {
    if (len <= SMALL_COPY) return this.data.slice(off, off + len);
    if (len > POOL_CHUNK / 4) {
      const out = new Uint8Array(len);
      this.copyOut(off, out, 0, len);
      return out;
    }
    const at = ((copyPoolUsed + 7) & ~7) + ((this.dataBase + off) & 7);
    if (at + len > POOL_CHUNK) {
      copyPool = new ArrayBuffer(POOL_CHUNK);
      copyPoolUsed = 0;
      return this.copy(off, len);
    }
    const out = new Uint8Array(copyPool, at, len);
    copyPoolUsed = at + len;
    out.set(this.view(off, len));
    return out;
  }

  /** Readable bytes after our head (reloads `tail`). */
  private available(): number {
    const avail = (this.tailCache - this.head) >>> 0;
    return avail > 0 ? avail : this.refreshTail(this.head);
  }

  /** Reloads and validates `tail`; returns readable bytes after position `head`. */
  private refreshTail(head: number): number {
    const tail = Atomics.load(this.i32, I_TAIL) >>> 0;
    const released = this.head;
    if ((tail - released) >>> 0 > this.capacity || (tail & 3) !== 0) {
      throw corrupt('tail outside the ring');
    }
    // `head` (local, maybe ahead of the consumed position in a batch) must not pass `tail`.
    if ((tail - head) >>> 0 > (tail - released) >>> 0) throw corrupt('tail moved backwards');
    this.tailCache = tail;
    return (tail - head) >>> 0;
  }

  /**
   * Finds the next message at or after position `head`, skipping wrap markers. Returns the
   * payload's data offset (and sets `foundLen`/`foundNext`), or -1 when there is none.
   */
  private locate(head: number): number {
    const cap = this.capacity;
    for (;;) {
      let avail = (this.tailCache - head) >>> 0;
      if (avail === 0) {
        avail = this.refreshTail(head);
        if (avail === 0) return -1;
      }
      const off = head & this.mask;
      const toEnd = cap - off;
      const len = this.data32[off >> 2];
      if (len === WRAP_MARKER) {
        if (toEnd > avail) throw corrupt('wrap marker past tail');
        head = (head + toEnd) >>> 0;
        continue;
      }
      const total = footprint(len);
      if (len < 0 || len > this.maxMessageLength || total > avail || total > toEnd) {
        throw corrupt(`message length ${len >>> 0} at offset ${off}`);
      }
      this.foundLen = len;
      this.foundNext = (head + total) >>> 0;
      return off + 4;
    }
  }

  /** Releases everything before position `head` to the producer. */
  private release(head: number): void {
    this.head = head;
    Atomics.store(this.i32, I_HEAD, head);
  }
}

/** Writes a fresh kind-1 header (positions 0, flag 0); magic last. */
function initHeader(i32: Int32Array, capacity: number): void {
  for (let i = 1; i < i32.length; i++) Atomics.store(i32, i, 0);
  Atomics.store(i32, I_VERSION, VERSION);
  Atomics.store(i32, I_KIND, KIND_BYTES);
  Atomics.store(i32, I_CAPACITY, capacity);
  Atomics.store(i32, I_RECORD_SIZE, 0);
  Atomics.store(i32, I_MAGIC, MAGIC);
}
