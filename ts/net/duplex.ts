/**
 * `SocketDuplex`: a real `stream.Duplex` over a zerosock {@link Socket}, shaped enough like
 * `net.Socket` for node:http (`http.Server#emit('connection', duplex)`) and other stream users.
 *
 * Receiving: a zerosock 'data' view is borrowed pool memory, valid only during the callback.
 * Stream consumers keep chunks for as long as they like (node:http hands body slices to user
 * code, a paused `Readable` buffers them), so each view is copied into a `Buffer` before it is
 * pushed; the pool buffer goes back at once. (Retaining the view instead would pin receive
 * buffers for an unbounded time; see the measurement in benchmark/http.mjs.)
 *
 * Backpressure: `push()` returning false pauses the socket (the kernel then holds the bytes);
 * `_read()` resumes it. Writes go through `Socket#send` (which copies or corks, so the chunk is
 * free once it returns); a `false` from it holds the write callback until the socket's 'drain'.
 */
import { Duplex } from 'node:stream';
import type { Socket } from './socket';
import { ZerosockError } from '../core/errors';
import type { Address } from './socket/addresses';

/** Keys of {@link DuplexOptions}. */
export const DUPLEX_KEYS = ['allowHalfOpen', 'readableHighWaterMark', 'writableHighWaterMark'];

/** Options of {@link Socket.toDuplex}. */
export interface DuplexOptions {
  /**
   * Keep the writable side open after the peer's FIN (default: the socket's own
   * `allowHalfOpen`, false unless set — like `net.Socket`). node:http copes either way.
   */
  allowHalfOpen?: boolean;
  /** Readable buffer (bytes) above which the socket is paused (default 64 KiB). */
  readableHighWaterMark?: number;
  /** Writable buffer (bytes) above which `write()` returns false (default 64 KiB). */
  writableHighWaterMark?: number;
}

/** A `stream.Duplex` over a zerosock socket (made by {@link Socket.toDuplex}). */
export class SocketDuplex extends Duplex {
  /** The zerosock socket underneath. */
  readonly socket: Socket;
  /** Always false: the socket is connected when the duplex is made (`net.Socket` member). */
  readonly connecting = false;
  /** Always false (`net.Socket` member). */
  readonly pending = false;
  /** Bytes pushed to the readable side. */
  bytesRead = 0;
  /** Idle timeout in ms set by {@link SocketDuplex.setTimeout} (0: none). */
  timeout = 0;
  private written = 0;
  private timer: NodeJS.Timeout | null = null;
  private pausedByUs = false;
  private pendingWriteCb: ((err?: Error | null) => void) | null = null;
  private socketClosed = false;
  private closeCb: ((err?: Error | null) => void) | null = null;
  private destroyErr: Error | null = null;
  private unrefd = false;
  private readonly onDrain: () => void;

  /** @internal use `socket.toDuplex()` */
  constructor(socket: Socket, options: DuplexOptions = {}) {
    super({
      allowHalfOpen: options.allowHalfOpen ?? false,
      readableHighWaterMark: options.readableHighWaterMark ?? 64 * 1024,
      writableHighWaterMark: options.writableHighWaterMark ?? 64 * 1024,
      // 'close' comes once the zerosock socket has closed too (see _destroy).
      emitClose: true,
      autoDestroy: true,
    });
    this.socket = socket;
    this.onDrain = () => {
      const cb = this.pendingWriteCb;
      this.pendingWriteCb = null;
      cb?.();
    };
    socket.on('data', (view: Uint8Array) => {
      // Copy: the view is recycled when this callback returns (see the file comment).
      const chunk = Buffer.from(view);
      this.bytesRead += chunk.byteLength;
      if (this.timer !== null) this.timer.refresh();
      if (!this.push(chunk) && !this.pausedByUs) {
        this.pausedByUs = true;
        socket.pause();
      }
    });
    socket.on('end', () => this.push(null));
    socket.on('drain', this.onDrain);
    socket.on('error', (err: Error) => this.destroy(err));
    socket.on('close', () => this.onSocketClose());
    if (socket.readableEnded) this.push(null);
    if (socket.destroyed) this.destroy();
  }

  override _read(): void {
    if (this.pausedByUs) {
      this.pausedByUs = false;
      this.socket.resume();
    }
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, cb: (err?: Error | null) => void) {
    let ok: boolean;
    try {
      ok = this.socket.send(chunk);
    } catch (err) {
      cb(err as Error);
      return;
    }
    this.wrote(chunk.byteLength, ok, cb);
  }

  override _writev(
    chunks: { chunk: Buffer; encoding: BufferEncoding }[],
    cb: (err?: Error | null) => void,
  ): void {
    let ok = true;
    let n = 0;
    try {
      for (let i = 0; i < chunks.length; i++) {
        const c = chunks[i].chunk;
        n += c.byteLength;
        ok = this.socket.send(c);
      }
    } catch (err) {
      cb(err as Error);
      return;
    }
    this.wrote(n, ok, cb);
  }

  private wrote(n: number, ok: boolean, cb: (err?: Error | null) => void): void {
    this.written += n;
    if (this.timer !== null) this.timer.refresh();
    if (ok) cb();
    else this.pendingWriteCb = cb;
  }

  override _final(cb: (err?: Error | null) => void): void {
    const s = this.socket;
    if (s.destroyed || s.writableEnded) {
      cb();
      return;
    }
    // 'finish' only once every byte reached the kernel: node:http destroys the socket right
    // after it (destroySoon), and a destroy drops what the engine still holds.
    s.once('finish', () => cb());
    s.end();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.clearTimer();
    const pending = this.pendingWriteCb;
    this.pendingWriteCb = null;
    if (pending !== null) {
      pending(err ?? new ZerosockError('ERR_ZEROSOCK_SOCKET_CLOSED', 'the socket was destroyed'));
    }
    if (this.socketClosed) {
      cb(err);
      return;
    }
    // 'close' of the duplex follows the socket's, so an fd count taken after it is exact.
    this.destroyErr = err;
    this.closeCb = cb;
    this.socket.destroy();
  }

  private onSocketClose(): void {
    this.socketClosed = true;
    this.clearTimer();
    this.socket.off('drain', this.onDrain);
    if (this.unrefd) {
      this.unrefd = false;
      this.socket.engine.ref();
    }
    const cb = this.closeCb;
    if (cb !== null) {
      this.closeCb = null;
      cb(this.destroyErr);
      return;
    }
    if (this.destroyed) return;
    // Closed under us (reset, or both sides finished): let a clean end run its course,
    // otherwise the stream is done now.
    const pendingWrite = this.pendingWriteCb;
    if (pendingWrite !== null) {
      this.pendingWriteCb = null;
      pendingWrite(new ZerosockError('ERR_ZEROSOCK_SOCKET_CLOSED', 'the socket closed'));
    }
    // A clean close (FIN both ways): 'end'/'finish' are on their way and autoDestroy follows.
    if (!(this.socket.readableEnded && this.socket.writableEnded)) this.destroy();
  }

  // ------------------------------------------------------------------ net.Socket members

  /** Idle timeout: emits 'timeout' after `ms` without reads or writes (0 turns it off). */
  setTimeout(ms: number, callback?: () => void): this {
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) {
      throw new RangeError(`The "timeout" argument must be a finite number >= 0. Received ${ms}`);
    }
    this.timeout = ms;
    if (ms === 0) {
      this.clearTimer();
      if (callback !== undefined) this.removeListener('timeout', callback);
      return this;
    }
    if (callback !== undefined) this.once('timeout', callback);
    if (this.destroyed) return this;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.emit('timeout');
    }, ms);
    this.timer.unref();
    return this;
  }

  /** @internal what `net.Socket` calls on activity: restarts the idle timer. */
  _unrefTimer(): void {
    if (this.timer !== null) this.timer.refresh();
  }

  private clearTimer(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  /** TCP_NODELAY is always on for zerosock sockets (corking batches instead); kept for API parity. */
  setNoDelay(_noDelay?: boolean): this {
    return this;
  }

  /** Not supported by the engine yet: accepted and ignored, for API parity. */
  setKeepAlive(_enable?: boolean, _initialDelay?: number): this {
    return this;
  }

  /** Lets the process exit while this connection is open. */
  unref(): this {
    if (!this.unrefd && !this.socketClosed) {
      this.unrefd = true;
      this.socket.engine.unref();
    }
    return this;
  }

  /** Undoes {@link SocketDuplex.unref}. */
  ref(): this {
    if (this.unrefd) {
      this.unrefd = false;
      this.socket.engine.ref();
    }
    return this;
  }

  /** Ends the writable side, and destroys once it has finished (`net.Socket#destroySoon`). */
  destroySoon(): void {
    if (this.writable) this.end();
    if (this.writableFinished) this.destroy();
    else this.once('finish', () => this.destroy());
  }

  /** Like `net.Socket#resetAndDestroy` (without SO_LINGER 0: a plain destroy). */
  resetAndDestroy(): this {
    return this.destroy();
  }

  /** Local address, like `net.Socket#address()` (`{}` once unknown, as node:net). */
  address(): Address | Record<string, never> {
    return this.socket.address() ?? {};
  }

  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }

  /** True over TLS (node:http reads it, as frameworks do to tell https). */
  get encrypted(): boolean {
    return this.socket.encrypted;
  }

  /** TLS: as the socket's (node:tls's fields). */
  get authorized(): boolean {
    return this.socket.authorized;
  }

  get alpnProtocol(): string | false {
    return this.socket.alpnProtocol;
  }

  getPeerCertificate(): ReturnType<Socket['getPeerCertificate']> {
    return this.socket.getPeerCertificate();
  }

  get remotePort(): number | undefined {
    return this.socket.remotePort;
  }

  get remoteFamily(): string | undefined {
    return this.socket.remoteFamily;
  }

  get localAddress(): string | undefined {
    return this.socket.localAddress;
  }

  get localPort(): number | undefined {
    return this.socket.localPort;
  }

  get localFamily(): string | undefined {
    return this.socket.address()?.family;
  }

  /** Bytes accepted for writing (like `net.Socket#bytesWritten`). */
  get bytesWritten(): number {
    return this.written;
  }

  /** Bytes written and not yet taken by the kernel (deprecated in node:net, kept for parity). */
  get bufferSize(): number {
    return this.writableLength + this.socket.writableLength;
  }

  /** `'open'`, `'readOnly'`, `'writeOnly'` or `'closed'`, like `net.Socket#readyState`. */
  get readyState(): 'open' | 'readOnly' | 'writeOnly' | 'closed' {
    if (this.readable && this.writable) return 'open';
    if (this.readable) return 'readOnly';
    if (this.writable) return 'writeOnly';
    return 'closed';
  }
}
