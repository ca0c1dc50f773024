/**
 * The states of one socket and the order of their events, as node:net has them: connecting
 * (a `connect()` socket, whose outcome goes to `onConnect`) → open → the writable side ended
 * (`end()`; 'finish' once every byte reached the kernel) and the readable side ended (the
 * peer's FIN; 'end') → closed ('error' before 'close'). The lifecycle decides and emits; the
 * socket (net/socket.ts) carries a transition out to its other parts.
 */
import { Sub, type Engine } from '../../core/engine';
import { ZerosockError } from '../../core/errors';
import { systemError } from '../../core/system-error';
import type { Address } from './addresses';

/** What the lifecycle needs from its socket: its events and its public close/end calls. */
export interface LifecycleHost {
  emit(event: string | symbol, ...args: unknown[]): boolean;
  end(): unknown;
  destroy(err?: Error): unknown;
  /** Bytes accepted by `send()` that the kernel has not taken yet. */
  readonly writableLength: number;
}

export class Lifecycle {
  /** True once `end()` was called (or the socket was destroyed). Written only here. */
  writableEnded = false;
  /** True once the peer's FIN arrived and 'end' was emitted. */
  readableEnded = false;
  /** True once `destroy()` was called or the socket failed or closed. */
  destroyed = false;
  /** True once the engine reported the socket closed. */
  closed = false;
  /** The socket failed or was destroyed with an error (the argument of 'close'). */
  hadError = false;
  /** Keep the writable side open after the peer's FIN (the Duplex view sets it). */
  allowHalfOpen: boolean;
  /** Resolves the `connect()` promise; null once settled (or for an accepted socket). */
  onConnect: ((err?: Error) => void) | null = null;
  private readonly host: LifecycleHost;
  private readonly engine: Engine;
  private readonly id: number;
  private closeSubmitted = false;
  private finishEmitted = false;
  private pendingError: Error | null = null;

  constructor(host: LifecycleHost, engine: Engine, id: number, allowHalfOpen: boolean) {
    this.host = host;
    this.engine = engine;
    this.id = id;
    this.allowHalfOpen = allowHalfOpen;
  }

  /** Throws `ERR_ZEROSOCK_SOCKET_CLOSED` unless `call` (`send()`, …) may queue bytes. */
  assertWritable(call = 'send()'): void {
    if (this.destroyed || this.closed) {
      throw new ZerosockError('ERR_ZEROSOCK_SOCKET_CLOSED', `${call} on a closed socket`);
    }
    if (this.writableEnded) {
      throw new ZerosockError('ERR_ZEROSOCK_SOCKET_CLOSED', `${call} after end()`);
    }
  }

  /** `end()`: the writable side is done (the socket seals and shuts down its sender). */
  endWritable(): void {
    this.writableEnded = true;
  }

  /**
   * `destroy(err)`: false if the socket was destroyed already. With `err`, 'error' is emitted
   * on the next tick — and at the latest right before 'close'.
   */
  destroy(err?: Error): boolean {
    if (this.destroyed) return false;
    this.destroyed = true;
    this.writableEnded = true;
    if (err) {
      this.hadError = true;
      this.pendingError = err;
      process.nextTick(() => this.emitPendingError());
    }
    return true;
  }

  /** The peer's FIN (after any data held back before it): 'end', then our own FIN unless half-open. */
  onEof(): void {
    if (this.readableEnded) return;
    this.readableEnded = true;
    this.host.emit('end');
    if (!this.allowHalfOpen && !this.destroyed) this.host.end();
    this.maybeClose();
  }

  /**
   * The engine reported `errno` from `syscall`. A pending `connect()` rejects with it; an open
   * socket is destroyed with it. `peer` is the remote address if it was known.
   */
  onError(errno: number, syscall: string, peer: Address | undefined): void {
    this.fail(systemError(errno, syscall, peer?.address, peer?.port));
  }

  /** A failure (a system call's, or a TLS session's): as {@link onError} with `err`. */
  fail(err: Error): void {
    if (this.onConnect !== null) {
      const cb = this.onConnect;
      this.onConnect = null;
      this.destroyed = true;
      this.submitClose();
      cb(err);
      return;
    }
    this.host.destroy(err);
  }

  /** The connection is up: the `connect()` callback to call, or null if nobody waits. */
  takeConnectCallback(): ((err?: Error) => void) | null {
    const cb = this.onConnect;
    this.onConnect = null;
    return cb;
  }

  /** The engine closed the socket: false if that was known already. A pending 'error' goes first. */
  close(): boolean {
    if (this.closed) return false;
    this.emitPendingError();
    this.closed = true;
    this.destroyed = true;
    return true;
  }

  /**
   * After `end()`, a completed send or the peer's FIN: 'finish' once every byte reached the
   * kernel after `end()`, and the close once both sides are done.
   */
  maybeClose(): void {
    const pending = this.host.writableLength;
    if (this.writableEnded && pending === 0 && !this.finishEmitted && !this.destroyed) {
      // 'finish': after end(), every byte reached the kernel (the FIN follows), like net's.
      this.finishEmitted = true;
      process.nextTick(() => this.host.emit('finish'));
    }
    if (this.readableEnded && this.writableEnded && pending === 0) this.submitClose();
  }

  /** Asks the engine to close the socket (once). */
  submitClose(): void {
    if (this.closeSubmitted) return;
    this.closeSubmitted = true;
    this.engine.submit(Sub.Close, this.id);
  }

  /** 'error' is emitted before 'close', like node:net. */
  private emitPendingError(): void {
    const err = this.pendingError;
    if (err === null) return;
    this.pendingError = null;
    this.host.emit('error', err);
  }
}
