/**
 * `BufferPool`: fixed-size buffers in native pool memory (DESIGN.md §1, §8).
 *
 * Pool memory is mapped by Rust (crates/pool) and seen by JS once per region as an external
 * `ArrayBuffer`; a buffer is a `Uint8Array` view into it by offset — no native object per
 * buffer. Each thread keeps a small LIFO stack of free buffers in shared ints (the cache block,
 * see crates/node/src/pool.rs), so `acquire()` and `release()` are plain JS in the steady state;
 * native code is called once per batch to refill or spill that stack.
 *
 * Misuse is detected without allocating: the pool remembers the one view it currently lends for
 * each buffer, and `release(view)` of any other view throws instead of corrupting the pool.
 *
 * Worker threads: `transfer(view)` gives a plain token to `postMessage`; the worker calls
 * `BufferPool.attach(token.poolId).fromToken(token)` to get its own view of the same memory, and
 * its `release(view)` is a deferred free: the buffer goes onto the owner thread's return ring and
 * the owner takes it back on a later refill or `drain()`.
 */
import { native } from '../core/native';
import { fromNative, InvalidArgumentError, ZerosockError } from '../core/errors';
import { validateOptions } from '../core/validate';
import type { NativeBufferPool } from '../core/binding';
import { assertNotInFlight } from './lent-memory';
/** Ints before the first `[index, generation]` pair of the cache block; int 0 is its length. */
import { Layout } from '../core/records.generated';

/** Options of {@link BufferPool}. */
export interface BufferPoolOptions {
  /** Bytes per buffer (`byteLength` of every view): a multiple of 64, up to 2^30. */
  size: number;
  /** Buffers mapped up front, and added per growth step when the pool runs dry. */
  count: number;
  /** Hard limit on buffers (>= `count`); acquiring beyond it throws `ERR_ZEROSOCK_POOL_EXHAUSTED`. */
  maxCount?: number;
  /** Fault every page in when memory is mapped, so first use never page-faults (default false). */
  populate?: boolean;
  /**
   * Lend the same `Uint8Array` object again each time a buffer is acquired again (default
   * false). Acquire then allocates nothing in the steady state — no garbage, no GC — but a
   * reference kept to a released view can no longer be told apart from the buffer's next
   * lending, so stale views are not detected (double release still is).
   */
  reuseViews?: boolean;
}

/**
 * A buffer in flight to another thread: plain data for `postMessage`. Exactly one
 * {@link BufferPool.fromToken} of it succeeds, on any thread of the process.
 */
export interface BufferToken {
  /** {@link BufferPool.poolId} of the pool. */
  readonly poolId: number;
  /** The buffer's number in the pool. */
  readonly index: number;
  /** Its generation; a token of a buffer released since is refused. */
  readonly generation: number;
}

/** Counters of a {@link BufferPool}: this thread's, then (marked) the whole pool's. */
export interface BufferPoolStats {
  /** Bytes per buffer. */
  size: number;
  /** Pool: buffers mapped so far. */
  capacity: number;
  /** Pool: buffers it may ever have (`maxCount`, or the growth ceiling). */
  limit: number;
  /** Pool: memory regions mapped so far. */
  regions: number;
  /** Views handed out by `acquire()` on this thread. */
  acquired: number;
  /** Views taken back by `release()` on this thread (own and received ones). */
  released: number;
  /** Acquires served from this thread's cache without a native call. */
  recycledFromCache: number;
  /** Acquires that refilled this thread's cache from native code. */
  misses: number;
  /** Views handed to other threads by `transfer()` on this thread. */
  transferred: number;
  /** Views made from tokens by `fromToken()` on this thread. */
  received: number;
  /** Releases on this thread of buffers another thread owns (deferred to that owner). */
  deferred: number;
  /** Views this thread lends right now (acquired or received, not released or transferred). */
  inUse: number;
  /** Most views this thread lent at once. */
  highWater: number;
  /** Free buffers cached by this thread (JS stack and native cache). */
  cached: number;
  /** Pool: deferred releases pushed onto their owner's return ring. */
  returnedViaRing: number;
  /** Pool: buffers owners took back from their return rings. */
  drainedFromRing: number;
  /** Pool: deferred releases that went to the shared free list (owner gone or ring full). */
  returnedToShared: number;
  /** Pool: growth steps (regions mapped after creation). */
  grows: number;
  /** Pool: acquires refused with `ERR_ZEROSOCK_POOL_EXHAUSTED`. */
  exhausted: number;
  /** Pool: buffers out of the shared pool (lent, in flight, or cached by some thread). */
  poolInUse: number;
  /** Pool: free buffers on the shared free list. */
  sharedFree: number;
  /** Pool: threads attached (owners with a return ring). */
  threads: number;
}

const MAX_SIZE = 2 ** 30;
const MAX_U32 = 2 ** 32 - 1;

/** This thread's pool handles by pool id, so each thread has at most one per pool. */
const attachedHere = new Map<number, WeakRef<BufferPool>>();
/** Native handle passed from {@link BufferPool.attach} to the constructor. */
let attaching: NativeBufferPool | null = null;

function badBuffer(message: string): ZerosockError {
  return new ZerosockError('ERR_ZEROSOCK_BAD_BUFFER', message);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'object') return `an instance of ${v.constructor?.name ?? 'Object'}`;
  return `type ${typeof v} (${String(v)})`;
}

function intOption(
  value: unknown,
  name: string,
  max: number,
  required: boolean,
): number | undefined {
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'number') {
    throw new InvalidArgumentError(
      'ERR_INVALID_ARG_TYPE',
      `The "${name}" option must be of type number. Received ${describe(value)}`,
    );
  }
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new InvalidArgumentError(
      'ERR_OUT_OF_RANGE',
      `The "${name}" option must be an integer >= 0 and <= ${max}. Received ${value}`,
    );
  }
  return value;
}

/**
 * The views a pool lends: a `Uint8Array` that also knows its buffer's index (a private field,
 * so finding it costs one load, and nobody can change it). Derived arrays (`subarray`, `slice`,
 * `map`, …) are plain `Uint8Array`s.
 */
class PoolView extends Uint8Array {
  #index = -1;

  static get [Symbol.species](): Uint8ArrayConstructor {
    return Uint8Array;
  }

  /** A view of `length` bytes at `offset` of `memory` for buffer `index`. */
  static make(memory: ArrayBuffer, offset: number, length: number, index: number): PoolView {
    const view = new PoolView(memory, offset, length);
    view.#index = index;
    return view;
  }

  /** The buffer index of a view a pool made, or -1 for any other `Uint8Array`. */
  static indexOf(view: Uint8Array): number {
    return #index in view ? (view as PoolView).#index : -1;
  }
}

function checkView(view: unknown): asserts view is Uint8Array {
  if (!(view instanceof Uint8Array)) {
    throw new InvalidArgumentError(
      'ERR_INVALID_ARG_TYPE',
      `The "view" argument must be an instance of Uint8Array. Received ${describe(view)}`,
    );
  }
}

/**
 * A pool of fixed-size buffers in native memory, for one thread (the owner; workers use
 * {@link BufferPool.attach}).
 *
 * ```js
 * const pool = new BufferPool({ size: 64 * 1024, count: 256 });
 * const view = pool.acquire(); // Uint8Array of 64 KiB
 * view[0] = 1;
 * pool.release(view);          // view must not be used any more
 * ```
 *
 * A view is valid from `acquire()` (or `fromToken()`) until its `release()` or `transfer()`;
 * using it afterwards reads or writes a buffer that may already be lent again — the pool cannot
 * stop such writes, but refuses such a view on `release()`/`transfer()`. Buffers never go back
 * to the allocator: released buffers are recycled, and the pool's memory is unmapped only when
 * the pool and every view of it are garbage.
 */
export class BufferPool {
  /** Bytes per buffer (every view's `byteLength`). */
  readonly size: number;
  /** Buffers per growth step (the `count` option). */
  readonly count: number;

  private readonly native: NativeBufferPool;
  private readonly limit: number;
  private readonly ints: Int32Array;
  /** Entries on the cache stack (mirrored into `ints[0]` on every change). */
  private len = 0;
  private readonly batch: number;
  private readonly cap: number;
  private readonly regions: (ArrayBuffer | undefined)[] = [];
  private readonly regionOf = new Map<ArrayBuffer, number>();
  /** The view currently lent for each buffer, by index. */
  private lent: (Uint8Array | undefined)[] = [];
  /** Generation of each lent buffer, by index. */
  private gens = new Int32Array(0);
  /** With `reuseViews`: the view made for each buffer, by index. */
  private views: (Uint8Array | undefined)[] = [];
  private readonly reuseViews: boolean;
  /** 1 for buffers lent here through `fromToken` (released natively, not cached). */
  private fromTokens = new Uint8Array(0);
  private id = 0;
  private nAcquired = 0;
  private nReleased = 0;
  private nRecycled = 0;
  private nMisses = 0;
  private nTransferred = 0;
  private nReceived = 0;
  private nDeferred = 0;
  private nInUse = 0;
  private nHighWater = 0;

  /**
   * Maps a new pool. Throws `ERR_INVALID_ARG_TYPE` / `ERR_OUT_OF_RANGE` for options of the wrong
   * type or range, `ERR_ZEROSOCK_POOL_CONFIG` for an unusable combination (size not a multiple of
   * 64, count 0, maxCount below count, …), `ERR_ZEROSOCK_POOL_MMAP` when mapping fails.
   */
  constructor(options: BufferPoolOptions) {
    let handle = attaching;
    attaching = null;
    if (handle === null) {
      if (options === null || typeof options !== 'object') {
        throw new InvalidArgumentError(
          'ERR_INVALID_ARG_TYPE',
          `The "options" argument must be of type object. Received ${describe(options)}`,
        );
      }
      validateOptions(options, ['size', 'count', 'maxCount', 'populate', 'reuseViews']);
      const size = intOption(options.size, 'size', MAX_SIZE, true) as number;
      const count = intOption(options.count, 'count', MAX_U32, true) as number;
      const maxCount = intOption(options.maxCount, 'maxCount', MAX_U32, false);
      for (const name of ['populate', 'reuseViews'] as const) {
        if (options[name] !== undefined && typeof options[name] !== 'boolean') {
          throw new InvalidArgumentError(
            'ERR_INVALID_ARG_TYPE',
            `The "${name}" option must be of type boolean. Received ${describe(options[name])}`,
          );
        }
      }
      try {
        handle = new native.NativeBufferPool({
          size,
          count,
          maxCount,
          populate: options.populate,
        });
      } catch (err) {
        throw fromNative(err);
      }
    }
    this.native = handle;
    this.reuseViews = options?.reuseViews === true;
    this.size = handle.bufferSize();
    this.count = handle.regionBuffers();
    this.limit = handle.stats().limit;
    this.ints = new Int32Array(handle.cacheBuffer());
    this.batch = Math.min(32, Math.max(1, Math.floor(this.count / 16)));
    this.cap = Math.min(4 * this.batch, handle.cacheCapacity());
    this.grow(0);
  }

  /**
   * This thread's handle on pool `poolId` (from {@link BufferPool.poolId} or a token), made on
   * first use and kept while reachable. On the pool's own thread it is the pool itself.
   *
   * Throws `ERR_INVALID_ARG_VALUE` when no live pool has that id.
   */
  static attach(poolId: number): BufferPool {
    if (typeof poolId !== 'number' || !Number.isInteger(poolId) || poolId < 1) {
      throw new InvalidArgumentError(
        'ERR_INVALID_ARG_VALUE',
        `The "poolId" argument must be a pool id (an integer >= 1). Received ${describe(poolId)}`,
      );
    }
    const known = attachedHere.get(poolId)?.deref();
    if (known !== undefined) return known;
    for (const [id, ref] of attachedHere) if (ref.deref() === undefined) attachedHere.delete(id);
    let handle: NativeBufferPool;
    try {
      handle = native.NativeBufferPool.attach(poolId);
    } catch (err) {
      throw fromNative(err);
    }
    attaching = handle;
    const pool = new BufferPool(undefined as unknown as BufferPoolOptions);
    pool.id = poolId;
    attachedHere.set(poolId, new WeakRef(pool));
    return pool;
  }

  /** The pool's process-wide id, for {@link BufferPool.attach} in worker threads. */
  get poolId(): number {
    if (this.id === 0) {
      this.id = this.native.id();
      attachedHere.set(this.id, new WeakRef(this));
    }
    return this.id;
  }

  /**
   * Lends a buffer: a `Uint8Array` of {@link BufferPool.size} bytes, contents unspecified.
   *
   * Throws `ERR_ZEROSOCK_POOL_EXHAUSTED` when the pool is at `maxCount` with every buffer out
   * (or cached by other threads), `ERR_ZEROSOCK_POOL_MMAP` when growing fails.
   */
  acquire(): Uint8Array {
    let len = this.len;
    if (len === 0) {
      len = this.refill();
      this.nMisses++;
    } else {
      this.nRecycled++;
    }
    len--;
    const ints = this.ints;
    const at = Layout.CacheHead + 2 * len;
    const index = ints[at];
    const generation = ints[at + 1];
    this.len = len;
    ints[0] = len;
    if (index >= this.lent.length) this.grow(index);
    let view: Uint8Array | undefined;
    if (this.reuseViews) {
      view = this.views[index];
      if (view === undefined) this.views[index] = view = this.viewOf(index);
    } else {
      view = this.viewOf(index);
    }
    this.lent[index] = view;
    this.gens[index] = generation;
    this.nAcquired++;
    if (++this.nInUse > this.nHighWater) this.nHighWater = this.nInUse;
    return view;
  }

  /**
   * Gives a lent view back; it must not be used afterwards.
   *
   * Throws `ERR_INVALID_ARG_TYPE` for a non-`Uint8Array`, `ERR_ZEROSOCK_BAD_BUFFER` for a view
   * no pool lent (a plain `Uint8Array`, a `Buffer`, a subarray or copy of a lent view) or that
   * another pool lent, and `ERR_ZEROSOCK_BUFFER_RELEASED` for a view this pool lent that is not
   * lent any more (released or transferred already, or a stale view of a buffer lent again
   * since), `ERR_ZEROSOCK_BUFFER_IN_FLIGHT` while a zerocopy send of it has not completed. A
   * refused call changes nothing.
   */
  release(view: Uint8Array): void {
    const index = this.lentIndex(view, 'released');
    assertNotInFlight(view, 'released');
    if (this.fromTokens[index] !== 0) {
      this.releaseReceived(index);
    } else {
      let len = this.len;
      if (len === this.cap) len = this.spill();
      const ints = this.ints;
      const at = Layout.CacheHead + 2 * len;
      ints[at] = index;
      ints[at + 1] = this.gens[index];
      this.len = ++len;
      ints[0] = len;
    }
    this.lent[index] = undefined;
    this.nInUse--;
    this.nReleased++;
  }

  /**
   * Hands a lent view to another thread: returns a token to `postMessage`; the receiver gets its
   * view with {@link BufferPool.fromToken} and releases it there (a deferred free back to the
   * owner). This thread must not use the view afterwards. Errors as {@link BufferPool.release}.
   */
  transfer(view: Uint8Array): BufferToken {
    const index = this.lentIndex(view, 'transferred');
    assertNotInFlight(view, 'transferred');
    const poolId = this.poolId;
    const generation = this.gens[index];
    try {
      this.native.handOff(index, generation);
    } catch (err) {
      throw fromNative(err);
    }
    this.lent[index] = undefined;
    this.fromTokens[index] = 0;
    this.nInUse--;
    this.nTransferred++;
    return { poolId, index, generation };
  }

  /**
   * The view of a buffer another thread transferred (see {@link BufferPool.transfer}); call it on
   * the pool from `BufferPool.attach(token.poolId)`. Only one `fromToken` per transfer succeeds.
   *
   * Throws `ERR_INVALID_ARG_TYPE` for a malformed token, `ERR_ZEROSOCK_BAD_BUFFER` for a token of
   * another pool or an unknown buffer, `ERR_ZEROSOCK_BUFFER_RELEASED` for a token used already or
   * whose buffer was released since.
   */
  fromToken(token: BufferToken): Uint8Array {
    if (token === null || typeof token !== 'object') {
      throw new InvalidArgumentError(
        'ERR_INVALID_ARG_TYPE',
        `The "token" argument must be a buffer token object. Received ${describe(token)}`,
      );
    }
    const { poolId, index, generation } = token;
    for (const [name, v] of [
      ['poolId', poolId],
      ['index', index],
      ['generation', generation],
    ] as const) {
      if (typeof v !== 'number' || !Number.isInteger(v)) {
        throw new InvalidArgumentError(
          'ERR_INVALID_ARG_TYPE',
          `The "token.${name}" property must be an integer. Received ${describe(v)}`,
        );
      }
    }
    if (poolId !== this.poolId) {
      throw badBuffer(`the token belongs to pool ${poolId}, not to this pool (${this.poolId})`);
    }
    if (index < 0 || index >= this.limit || generation < -(2 ** 31) || generation > MAX_U32) {
      throw badBuffer(`the token names no buffer of this pool (index ${index})`);
    }
    try {
      this.native.claim(index, generation | 0);
    } catch (err) {
      throw fromNative(err);
    }
    if (index >= this.lent.length) this.grow(index);
    const view = this.viewOf(index);
    this.lent[index] = view;
    this.gens[index] = generation | 0;
    this.fromTokens[index] = 1;
    this.nReceived++;
    if (++this.nInUse > this.nHighWater) this.nHighWater = this.nInUse;
    return view;
  }

  /**
   * Takes back into this thread's cache the buffers other threads released (deferred frees);
   * returns how many. Also happens by itself when the cache runs dry.
   */
  drain(): number {
    return this.native.drain();
  }

  /** This thread's counters and the pool's (see {@link BufferPoolStats}). */
  stats(): BufferPoolStats {
    const s = this.native.stats();
    return {
      size: this.size,
      capacity: s.capacity,
      limit: s.limit,
      regions: s.regions,
      acquired: this.nAcquired,
      released: this.nReleased,
      recycledFromCache: this.nRecycled,
      misses: this.nMisses,
      transferred: this.nTransferred,
      received: this.nReceived,
      deferred: this.nDeferred,
      inUse: this.nInUse,
      highWater: this.nHighWater,
      cached: this.len + this.native.nativeCached(),
      returnedViaRing: s.returnedViaRing,
      drainedFromRing: s.drainedFromRing,
      returnedToShared: s.returnedToShared,
      grows: s.grows,
      exhausted: s.exhausted,
      poolInUse: s.inUse,
      sharedFree: s.sharedFree,
      threads: s.owners,
    };
  }

  /** Index of the buffer `view` is the lent view of; throws for anything else. */
  private lentIndex(view: Uint8Array, what: string): number {
    checkView(view);
    const index = PoolView.indexOf(view);
    if (index < 0 || this.lent[index] !== view) throw this.notLent(view, what);
    return index;
  }

  /** The error for a view that is not lent: which kind of misuse is it? (slow path) */
  private notLent(view: Uint8Array, what: string): ZerosockError {
    const index = PoolView.indexOf(view);
    if (index < 0) {
      return badBuffer('the view was not lent by a pool (a plain Uint8Array, Buffer or subarray?)');
    }
    if (!this.regionOf.has(view.buffer as ArrayBuffer)) {
      return badBuffer('the view belongs to another pool');
    }
    return new ZerosockError(
      'ERR_ZEROSOCK_BUFFER_RELEASED',
      `buffer ${index} cannot be ${what}: this view is not lent any more ` +
        '(released or transferred already, or stale)',
    );
  }

  private viewOf(index: number): Uint8Array {
    const region = Math.floor(index / this.count);
    const ab = this.regions[region] ?? this.mapRegion(region);
    return PoolView.make(ab, (index - region * this.count) * this.size, this.size, index);
  }

  private mapRegion(region: number): ArrayBuffer {
    let ab: ArrayBuffer;
    try {
      ab = this.native.regionBuffer(region);
    } catch (err) {
      throw fromNative(err);
    }
    while (this.regions.length < region) this.regions.push(undefined);
    this.regions[region] = ab;
    this.regionOf.set(ab, region);
    return ab;
  }

  /** Makes the per-buffer tables cover `index` (at least doubling them). */
  private grow(index: number): void {
    const old = this.lent.length;
    const n = Math.min(this.limit, Math.max(index + 1, 2 * old, 64));
    const lent: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(n).fill(undefined);
    for (let i = 0; i < old; i++) lent[i] = this.lent[i];
    const gens = new Int32Array(n);
    gens.set(this.gens);
    const fromTokens = new Uint8Array(n);
    fromTokens.set(this.fromTokens);
    if (this.reuseViews) {
      const views: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(n).fill(
        undefined,
      );
      for (let i = 0; i < old; i++) views[i] = this.views[i];
      this.views = views;
    }
    this.lent = lent;
    this.gens = gens;
    this.fromTokens = fromTokens;
  }

  /** Refills the empty cache stack from native code; returns its new length. */
  private refill(): number {
    try {
      this.native.refill(this.batch);
    } catch (err) {
      throw fromNative(err);
    }
    this.len = this.ints[0];
    return this.len;
  }

  /** Gives the oldest batch of the full cache stack back to native code; returns the new length. */
  private spill(): number {
    this.native.spill(this.batch);
    this.len = this.ints[0];
    return this.len;
  }

  /** Releases a buffer lent through `fromToken` natively (deferred when another thread owns it). */
  private releaseReceived(index: number): void {
    let deferred: boolean;
    try {
      deferred = this.native.release(index, this.gens[index]);
    } catch (err) {
      throw fromNative(err);
    }
    this.fromTokens[index] = 0;
    if (deferred) this.nDeferred++;
  }
}
