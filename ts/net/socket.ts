/**
 * `Socket`: a TCP connection on a zerosock engine. Small sends are corked into pool memory in
 * JS and flushed once per tick; received bytes arrive as borrowed views into pool memory.
 *
 * The class composes parts with one job each (net/socket/): the {@link Sender} (write side,
 * corking, 'drain'), the {@link Receiver} (read side, 'data', pause/resume), the
 * {@link Lifecycle} (states and the order of 'end'/'finish'/'error'/'close'), {@link ZeroCopy}
 * (made on first use), the {@link Addresses} and the {@link SocketCounters}. It routes the
 * engine's events to them and carries out the transitions that touch several (end, destroy,
 * close).
 */
import { EventEmitter } from 'node:events';
import { Engine, Sub, type SocketSink } from '../core/engine';
import { assertNotInFlight } from '../mem/lent-memory';
import { ZerosockError } from '../core/errors';
import { systemError } from '../core/system-error';
import { DUPLEX_KEYS, SocketDuplex, type DuplexOptions } from './duplex';
import { validateOptions } from '../core/validate';
import { Addresses, type Address } from './socket/addresses';
import { Lifecycle } from './socket/lifecycle';
import { defaultBusyPollUs, type SocketOptions } from './socket/options';
import { Receiver } from './socket/receiver';
import { Sender } from './socket/sender';
import { FileSender, type SendFileOptions, type SendFileResult } from './socket/send-file';
import { SocketCounters, type SocketStats } from './socket/stats';
import { TlsState, type PeerCertificate } from './tls';
import {
  ZeroCopy,
  emptyZeroCopyStats,
  type ZeroCopyResult,
  type ZeroCopySendOptions,
} from './socket/zerocopy';

export class Socket extends EventEmitter implements SocketSink {
  /** `'io_uring'` or `'epoll'`. */
  readonly backend: string;
  /** @internal */
  readonly engine: Engine;
  /** @internal */
  readonly id: number;
  private readonly counters = new SocketCounters();
  private readonly life: Lifecycle;
  private readonly sender: Sender;
  private readonly receiver: Receiver;
  private readonly addresses: Addresses;
  private zc: ZeroCopy | null = null;
  private files: FileSender | null = null;
  private readonly zcThreshold: number | undefined;
  private readonly busyPollUs: number;
  private duplex: SocketDuplex | null = null;
  /**
   * Lifecycle events (EOF, error, closed) held back right after `connect()` resolved, until the
   * caller's continuation had its turn to add listeners; null when not holding.
   */
  private held: Array<() => void> | null = null;
  /** TLS: the session's state; null on a plain TCP socket. */
  private tls: TlsState | null = null;
  /** TLS: told once when the handshake ends (with the error if it failed, or the socket closed first). */
  private onHandshake: ((err?: Error) => void) | null = null;

  /** @internal */
  constructor(engine: Engine, id: number, options: SocketOptions = {}) {
    super();
    this.engine = engine;
    this.id = id;
    this.backend = engine.backend;
    this.life = new Lifecycle(this, engine, id, options.allowHalfOpen ?? false);
    this.sender = new Sender(engine, id, options, this.counters, this.life, this);
    this.receiver = new Receiver(engine, id, this.counters, this.life, this);
    this.addresses = new Addresses(engine, id);
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
      if (name === 'data') this.receiver.onDataListener();
    });
  }

  /** True once `end()` was called. */
  get writableEnded(): boolean {
    return this.life.writableEnded;
  }

  /** True once the peer's FIN arrived and 'end' was emitted. */
  get readableEnded(): boolean {
    return this.life.readableEnded;
  }

  /** True once `destroy()` was called or the socket failed. */
  get destroyed(): boolean {
    return this.life.destroyed;
  }

  /** @internal resolves the connect() promise */
  get onConnect(): ((err?: Error) => void) | null {
    return this.life.onConnect;
  }

  set onConnect(cb: ((err?: Error) => void) | null) {
    this.life.onConnect = cb;
  }

  /** The peer's IP address (like node:net). */
  get remoteAddress(): string | undefined {
    return this.addresses.remoteAddress(!this.life.closed)?.address;
  }

  get remotePort(): number | undefined {
    return this.addresses.remoteAddress(!this.life.closed)?.port;
  }

  get remoteFamily(): string | undefined {
    return this.addresses.remoteAddress(!this.life.closed)?.family;
  }

  get localAddress(): string | undefined {
    return this.address()?.address;
  }

  get localPort(): number | undefined {
    return this.address()?.port;
  }

  /** True on a TLS socket (node:tls's `encrypted`). */
  get encrypted(): boolean {
    return this.tls !== null;
  }

  /** TLS: the peer's certificate verified (false on a server that did not ask for one). */
  get authorized(): boolean {
    return this.tls?.authorized ?? false;
  }

  /** TLS: why the peer's certificate did not verify: node:tls's code (a string), or null. */
  get authorizationError(): string | null {
    return this.tls?.authorizationError ?? null;
  }

  /** TLS: the protocol ALPN chose, or `false`. */
  get alpnProtocol(): string | false {
    return this.tls?.alpnProtocol ?? false;
  }

  /**
   * TLS: node:tls's `servername`: on a client the name it asked for, on a server the SNI name
   * the client sent; `false` without one (or without TLS).
   */
  get servername(): string | false {
    return this.tls?.servername ?? false;
  }

  /** TLS: `'TLSv1.3'` or `'TLSv1.2'` (null before the handshake or without TLS). */
  getProtocol(): string | null {
    return this.tls?.protocol ?? null;
  }

  /** TLS: the cipher suite, `{ name, standardName, version }` (null without TLS). */
  getCipher(): { name: string; standardName: string; version: string } | null {
    return this.tls?.cipher ?? null;
  }

  /** TLS: the peer's certificate in node:tls's shape (`{}` without one, null without TLS). */
  getPeerCertificate(): PeerCertificate | Record<string, never> | null {
    if (this.tls === null || this.life.closed) return this.tls === null ? null : {};
    return this.tls.peerCertificate();
  }

  /**
   * @internal Makes this socket TLS (the engine has its session); `done` is told once when
   * the handshake ends: without an argument when it succeeded.
   */
  startTls(isServer: boolean, done: (err?: Error) => void): void {
    this.tls = new TlsState(this.engine, this.id, isServer);
    this.onHandshake = done;
  }

  /** @internal Engine event: the TLS handshake is over. */
  onTlsReady(): void {
    if (this.tls === null) return;
    this.tls.refresh();
    this.tls.ready = true;
    this.handshakeEnded();
    if (!this.tls.isServer) this.onConnected();
  }

  /** @internal Engine event: the TLS session failed. */
  onTlsFailed(): void {
    if (this.tls === null) return;
    const err = this.tls.failure();
    if (this.held !== null) this.held.push(() => this.life.fail(err));
    else if (!this.tls.ready) this.failHandshake(err);
    else this.life.fail(err);
  }

  /**
   * The TLS handshake failed (or the connection went first): a server's waiter hears of it
   * ('tlsClientError': the socket was never handed out), a pending `connect()` rejects.
   */
  private failHandshake(err: Error): void {
    const server = this.tls?.isServer === true;
    if (!this.handshakeEnded(err) || !server) this.life.fail(err);
  }

  /** @internal The TLS handshake took too long (the server's `handshakeTimeout`). */
  abortHandshake(err: Error): void {
    if (this.tls !== null && !this.tls.ready) this.failHandshake(err);
  }

  /** Tells the handshake's waiter (once); false if nobody waited. */
  private handshakeEnded(err?: Error): boolean {
    const done = this.onHandshake;
    if (done === null) return false;
    this.onHandshake = null;
    done(err);
    return true;
  }

  /** Local address, like `net.Socket#address()`. */
  address(): Address | undefined {
    return this.addresses.localAddress(!this.life.closed);
  }

  /**
   * Queues `data` (bytes or a UTF-8 string). Small messages are copied into the cork buffer in
   * JS — no native call — and leave together at the end of the tick. Returns false when more
   * than `highWaterMark` bytes wait; `'drain'` follows.
   */
  send(data: Uint8Array | string): boolean {
    this.life.assertWritable();
    return this.sender.send(data);
  }

  /**
   * Sends `buf` without copying it: the kernel reads it in place, and the promise resolves
   * once the kernel let go of it, with `copied: true` if it copied after all (on loopback it
   * usually does). Keep `buf` unchanged until then. Below `zerocopyThreshold` bytes it is a
   * corked copy (`copied: true`). With `{ id: true }` returns the send id instead and reports
   * completions only as `'zerocopy'` events `(firstId, lastId, copied, err?)`. Pending sends
   * are rejected with `ERR_ZEROSOCK_SOCKET_CLOSED` when the socket closes first. See
   * ts/net/socket/zerocopy.ts.
   */
  sendZeroCopy(buf: Uint8Array, opts: ZeroCopySendOptions & { id: true }): number;
  sendZeroCopy(buf: Uint8Array, opts?: ZeroCopySendOptions): Promise<ZeroCopyResult>;
  sendZeroCopy(buf: Uint8Array, opts?: ZeroCopySendOptions): Promise<ZeroCopyResult> | number {
    return this.zeroCopy().send(buf, opts);
  }

  /**
   * Sends `length` bytes of a file from `offset` (default: all of it) without it passing
   * through JS: epoll sendfile(2), io_uring splice file → pipe → socket. In order with
   * `send()` before and after it; its bytes count in `writableLength` while they wait. `file`
   * is a path (opened and closed here) or an open descriptor (yours: never closed). Resolves
   * with the bytes sent; rejects with node:fs's errors (`ENOENT`, `EISDIR`, `EBADF`),
   * `ERR_OUT_OF_RANGE` for a range past the end, and `ERR_ZEROSOCK_SOCKET_CLOSED` when the
   * socket closes first. On a TLS socket the file is read and encrypted natively, in the same
   * order, and the result says `copied: true`.
   */
  sendFile(file: string | number, options?: SendFileOptions): Promise<SendFileResult> {
    const tls = (): boolean => this.tls !== null;
    this.files ??= new FileSender(this.engine, this.id, {
      beforeFile: (n) => {
        this.life.assertWritable('sendFile()');
        this.sender.beforeZeroCopy(n);
      },
      fileShort: (n) => this.sender.onSent(n),
      get encrypted() {
        return tls();
      },
    });
    return this.files.send(file, options);
  }

  private zeroCopy(): ZeroCopy {
    return (this.zc ??= new ZeroCopy(this, this.zcThreshold));
  }

  /** @internal Corked bytes go first; `n` zerocopy bytes now wait for the kernel. */
  beforeZeroCopy(n: number): void {
    this.sender.beforeZeroCopy(n);
  }

  /** @internal `n` bytes of a lent pool buffer were sent without a copy. */
  countForwarded(n: number): void {
    this.counters.forwardedBytes += n;
  }

  /** Sends what is corked now instead of at the end of the tick. */
  flush(): void {
    if (this.life.destroyed) return;
    this.sender.flush();
    this.engine.flush();
  }

  /** Sends `data` if given, then FIN once everything queued has left. */
  end(data?: Uint8Array | string): this {
    if (this.life.writableEnded || this.life.destroyed) return this;
    if (data !== undefined) this.send(data);
    this.life.endWritable();
    this.sender.end();
    this.life.maybeClose();
    return this;
  }

  /** Closes at once: queued sends are dropped, in-flight operations cancelled. */
  destroy(err?: Error): this {
    if (!this.life.destroy(err)) return this;
    this.sender.abort();
    this.files?.abort(err);
    this.receiver.releaseBacklog();
    this.life.submitClose();
    return this;
  }

  /** Stops 'data' events (and reading) until `resume()`. */
  pause(): this {
    this.receiver.pause();
    return this;
  }

  /** Restarts 'data' events; also makes data flow when nobody listens (it is then dropped). */
  resume(): this {
    this.receiver.resume();
    return this;
  }

  /**
   * This socket as a `stream.Duplex` (a {@link SocketDuplex}, shaped like `net.Socket`) for
   * node:http and other stream users; received bytes are copied out of pool memory. The
   * duplex owns the socket from now on; calling again returns the same one.
   */
  toDuplex(options: DuplexOptions = {}): SocketDuplex {
    validateOptions(options, DUPLEX_KEYS);
    if (this.duplex !== null) return this.duplex;
    const allowHalfOpen = options.allowHalfOpen ?? this.life.allowHalfOpen;
    this.life.allowHalfOpen = true; // the duplex decides about half-open now
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
    return this.counters.snapshot(
      this.sender.pendingBytes,
      this.zc?.stats() ?? emptyZeroCopyStats(),
    );
  }

  /** Bytes accepted by send() that the kernel has not taken yet. */
  get writableLength(): number {
    return this.sender.pendingBytes;
  }

  /** @internal Where this socket's unsent bytes are (JS cork, native + kernel). */
  describeWrites(): string | undefined {
    return this.sender.describeWrites();
  }

  /** @internal */
  /** @internal Engine event: bytes arrived. */
  onData(
    region: number,
    byteOffset: number,
    len: number,
    handleLo: number,
    handleHi: number,
  ): void {
    if (this.zc?.receive) this.zc.countCopied(len);
    this.receiver.onData(region, byteOffset, len, handleLo, handleHi);
  }

  /** @internal Engine event: the oldest sendFile() is done. */
  onFileSent(bytes: number, errno: number): void {
    this.files?.onFileSent(bytes, errno);
  }

  /** @internal Engine event: the kernel took `bytes` more. */
  onSent(bytes: number): void {
    this.sender.onSent(bytes);
  }

  /** @internal Engine event: connect() finished. */
  onConnected(): void {
    if (this.tls !== null && !this.tls.ready) return; // connect() resolves after the handshake
    const cb = this.life.takeConnectCallback();
    if (cb === null) return;
    // `await connect()` resumes the caller after this walk: an EOF, reset or close that
    // arrives meanwhile would be emitted before it could listen. Hold them one turn.
    this.held = [];
    setImmediate(() => this.releaseHeld());
    cb();
  }

  /** @internal Engine event: the peer's FIN. */
  onEof(): void {
    if (this.tls !== null && !this.tls.ready) {
      const err = new Error(
        'Client network socket disconnected before secure TLS connection was established',
      );
      return this.failHandshake(Object.assign(err, { code: 'ECONNRESET' }));
    }
    if (this.held !== null) this.held.push(() => this.onEof());
    else if (!this.receiver.deferEof()) this.life.onEof();
  }

  /** @internal Engine event: the socket failed. */
  onError(errno: number, syscall: string): void {
    if (this.tls !== null && !this.tls.ready) {
      const peer = this.addresses.knownRemote;
      return this.failHandshake(systemError(errno, syscall, peer?.address, peer?.port));
    }
    if (this.held !== null) this.held.push(() => this.onError(errno, syscall));
    else this.life.onError(errno, syscall, this.addresses.knownRemote);
  }

  /** @internal Engine event: the socket is closed (its last event). */
  onClosed(): void {
    if (this.held !== null) this.held.push(() => this.onClosed());
    else this.closeNow();
  }

  /** @internal Engine event: zerocopy sends `first..=last` finished. */
  onZeroCopyDone(first: number, last: number, copied: boolean): void {
    this.zc?.onDone(first, last, copied);
  }

  /** @internal Engine event: zerocopy receive mapped `len` bytes. */
  onMapped(_window: number, _chunk: number, len: number, token: number): void {
    this.receiver.onView(this.zeroCopy().mappedView(token, len), token, 0);
  }

  private releaseHeld(): void {
    const held = this.held;
    this.held = null;
    for (const event of held ?? []) event();
  }

  /** The engine closed the socket: every part lets go, then 'close'. */
  private closeNow(): void {
    if (!this.life.close()) return;
    this.handshakeEnded(
      new ZerosockError('ERR_ZEROSOCK_SOCKET_CLOSED', 'closed during the TLS handshake'),
    );
    this.receiver.releaseBacklog();
    this.zc?.onClosed();
    this.files?.abort();
    this.engine.detach(this.id);
    this.engine.dropBusyPoll(this.busyPollUs);
    this.engine.unref();
    this.sender.detach();
    this.emit('close', this.life.hadError);
  }
}
