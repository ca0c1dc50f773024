/** `Server`: a listening socket on a zerosock engine, shaped like node:net's. */
import { EventEmitter } from 'node:events';
import { engineFor, Sub, type Engine, type ListenerSink } from '../core/engine';
import { callNative, InvalidArgumentError, nativeSysError, ZerosockError } from '../core/errors';
import { publishServerSocket, traceListen } from './diagnostics';
import { resolveHost } from './resolve-host';
import { Socket } from './socket';
import type { Address } from './socket/addresses';
import { abortError, systemError, type SystemError } from '../core/system-error';
import { getSystemErrorMap } from 'node:util';
import {
  validateBoolean,
  validateHost,
  validateInt,
  validateOptions,
  validatePort,
} from '../core/validate';
import { refuseWithPath, unixPathBytes } from './unix-path';
import { SOCKET_OPTION_KEYS, validateSocketOptions, type SocketOptions } from './socket/options';
import { handshakeTimeoutError, serverTls, type ServerTls, type TlsServerOptions } from './tls';

/** Options of {@link createServer}. */
export const SERVER_KEYS = [...SOCKET_OPTION_KEYS, 'backend', 'tls'];
const LISTEN_KEYS = [
  'port',
  'host',
  'path',
  'backlog',
  'reusePort',
  'readableAll',
  'writableAll',
  'signal',
];

export interface ServerOptions extends SocketOptions {
  /** `'auto'` (default), `'io_uring'` or `'epoll'`; `ZEROSOCK_BACKEND` decides for `auto`. */
  backend?: 'auto' | 'io_uring' | 'epoll';
  /**
   * TLS (node:tls's server options): each connection is handed out ('connection' and
   * 'secureConnection') once its handshake is over; a failed handshake is 'tlsClientError'
   * (err, socket) and the server keeps serving.
   */
  tls?: TlsServerOptions;
}

/** Options of {@link Server.listen}. */
export interface ListenOptions {
  port?: number;
  /**
   * A Unix domain socket instead of TCP: a filesystem path (created by listen, removed by
   * `close()`; a path that exists is `EADDRINUSE`) or a Linux abstract name (`'\0name'`).
   * Not with `port`, `host` or `reusePort`.
   */
  path?: string;
  /** With `path`: everyone may connect (read permission), as node:net's option. */
  readableAll?: boolean;
  /** With `path`: everyone may connect (write permission), as node:net's option. */
  writableAll?: boolean;
  /** An IP address or a name to resolve (default `'::'`, falling back to `'0.0.0.0'`). */
  host?: string;
  backlog?: number;
  /** SO_REUSEPORT, to spread connections over several workers. */
  reusePort?: boolean;
  signal?: AbortSignal;
}

export class Server extends EventEmitter implements ListenerSink {
  private readonly options: ServerOptions;
  private engine: Engine | null = null;
  private id = -1;
  private closing: Promise<void> | null = null;
  private closedResolve: (() => void) | null = null;
  private readonly connections = new Set<Socket>();
  /** TLS: the server's config; null for plain TCP. */
  private readonly tls: ServerTls | null;
  /** TLS connections whose handshake runs (not handed out yet). */
  private readonly handshaking = new Set<Socket>();
  /** The Unix socket name listened on (what `address()` returns), or null for TCP. */
  private path: string | null = null;
  private referenced = true;
  /** True while listening. */
  listening = false;

  constructor(options: ServerOptions = {}, onConnection?: (socket: Socket) => void) {
    super();
    this.options = validateSocketOptions(validateOptions<ServerOptions>(options, SERVER_KEYS));
    const engine = engineFor(this.options.backend); // validates the backend now, not at listen()
    this.tls = options.tls === undefined ? null : serverTls(options.tls, engine);
    if (onConnection !== undefined) this.on('connection', onConnection);
  }

  /**
   * Starts listening; resolves once bound (port 0 picks a free port: see `address()`).
   * `listen(port, host?)`, `listen(path)` (a Unix socket) and `listen(options)`.
   * Traced on `zerosock.server.listen` (net/diagnostics.ts) from the options on.
   */
  async listen(options: ListenOptions | number | string = {}, host?: string): Promise<this> {
    const opts: ListenOptions =
      typeof options === 'number'
        ? { port: options, host }
        : typeof options === 'string'
          ? { path: options }
          : validateOptions<ListenOptions>(options, LISTEN_KEYS);
    if (this.listening || this.engine !== null) {
      throw new ZerosockError('ERR_ZEROSOCK_BAD_SOCKET', 'the server is already listening');
    }
    return traceListen(this, opts, () => this.startListening(opts));
  }

  /** `listen()` after its options were read: binds (a path, or a resolved host), starts accepting. */
  private async startListening(opts: ListenOptions): Promise<this> {
    const backlog = validateInt(opts.backlog, 'backlog', 1, 65535) ?? 511;
    const readableAll = validateBoolean(opts.readableAll, 'readableAll') === true;
    const writableAll = validateBoolean(opts.writableAll, 'writableAll') === true;
    if (opts.path !== undefined) {
      refuseWithPath(opts, ['port', 'host', 'reusePort'], 'listen()');
      const bytes = unixPathBytes(opts.path);
      return this.start(opts, (engine) => {
        const id = this.bindPath(engine, opts.path!, bytes, backlog);
        if (readableAll || writableAll)
          this.allowAll(engine, id, opts.path!, readableAll, writableAll);
        this.path = opts.path!;
        return id;
      });
    }
    if (readableAll || writableAll) {
      const key = readableAll ? 'readableAll' : 'writableAll';
      throw new InvalidArgumentError(
        'ERR_INVALID_ARG_VALUE',
        `The "${key}" option applies only to a Unix socket (listen({ path }))`,
      );
    }
    const port = validatePort(opts.port ?? 0);
    if (opts.signal?.aborted) throw abortError(opts.signal);
    let address: string;
    let fallback: string | null = null;
    if (opts.host === undefined) {
      address = '::';
      fallback = '0.0.0.0';
    } else {
      address = await resolveHost(validateHost(opts.host));
    }
    return this.start(opts, (engine) => {
      try {
        return this.bind(engine, address, port, backlog, opts.reusePort === true);
      } catch (err) {
        if (fallback === null) throw err;
        return this.bind(engine, fallback, port, backlog, opts.reusePort === true);
      }
    });
  }

  /** Binds with `bind` and starts serving: the one place a listener comes to life. */
  private start(opts: ListenOptions, bind: (engine: Engine) => number): this {
    if (opts.signal?.aborted) throw abortError(opts.signal);
    const engine = engineFor(this.options.backend);
    const id = bind(engine);
    if (this.tls !== null) engine.native.setTls(id, this.tls.config(engine));
    this.engine = engine;
    this.id = id;
    engine.attach(id, this); // the native listen already submitted the first accept
    if (this.referenced) engine.ref();
    this.listening = true;
    opts.signal?.addEventListener('abort', () => void this.close(), { once: true });
    this.emit('listening');
    return this;
  }

  private bind(engine: Engine, host: string, port: number, backlog: number, reusePort: boolean) {
    try {
      return engine.native.listen(host, port, backlog, reusePort);
    } catch (err) {
      throw toListenError(err as Error, host, port);
    }
  }

  private bindPath(engine: Engine, path: string, bytes: Buffer, backlog: number): number {
    try {
      return engine.native.listenPath(bytes, backlog);
    } catch (err) {
      throw toListenError(err as Error, path);
    }
  }

  /** `readableAll` / `writableAll`; on failure the new listener is closed again. */
  private allowAll(engine: Engine, id: number, path: string, read: boolean, write: boolean) {
    try {
      engine.native.allowAll(id, read, write);
    } catch (err) {
      engine.attach(id, this);
      engine.submit(Sub.Close, id);
      throw nativeSysError(err, path);
    }
  }

  /**
   * The bound address, like node:net's `server.address()`: `{ address, family, port }`, or
   * the path string for a Unix socket.
   */
  address(): Address | string | null {
    if (!this.listening || this.engine === null) return null;
    if (this.path !== null) return this.path;
    const engine = this.engine;
    return callNative(() => engine.native.localAddress(this.id));
  }

  /**
   * Stops accepting. Resolves when the listener is closed and every connection it accepted
   * has closed (like node:net); `closeAllConnections()` ends them at once.
   */
  close(): Promise<void> {
    if (this.closing !== null) return this.closing;
    const engine = this.engine;
    if (engine === null || !this.listening) {
      this.closing = Promise.resolve();
      return this.closing;
    }
    this.closing = new Promise<void>((resolve) => {
      this.closedResolve = resolve;
    });
    engine.submit(Sub.Close, this.id);
    for (const s of this.handshaking) s.destroy(); // never handed out: nobody else would
    return this.closing;
  }

  /** Destroys every connection this server accepted. */
  closeAllConnections(): void {
    for (const s of [...this.connections]) s.destroy();
  }

  /** Connections open now. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** Lets the process exit while this server listens. */
  unref(): this {
    if (this.referenced) {
      this.referenced = false;
      if (this.listening) this.engine?.unref();
    }
    return this;
  }

  ref(): this {
    if (!this.referenced) {
      this.referenced = true;
      if (this.listening) this.engine?.ref();
    }
    return this;
  }

  /** @internal */
  /** @internal Engine event: a connection was accepted. */
  onAccepted(socket: number): void {
    const sock = new Socket(this.engine!, socket, this.options);
    this.connections.add(sock);
    sock.once('close', () => {
      this.connections.delete(sock);
      this.maybeClosed();
    });
    if (this.closing !== null) {
      sock.destroy();
      return;
    }
    if (this.tls !== null) return this.handshake(sock, this.tls.handshakeTimeoutMs);
    this.handOut(sock);
  }

  private handOut(sock: Socket): void {
    this.emit('connection', sock);
    publishServerSocket(sock, this); // after 'connection', like node:net's net.server.socket
  }

  /** TLS: the socket is handed out once its handshake is over. */
  private handshake(sock: Socket, timeoutMs: number): void {
    this.handshaking.add(sock);
    const timer = setTimeout(() => sock.abortHandshake(handshakeTimeoutError()), timeoutMs);
    timer.unref();
    sock.startTls(true, (err) => {
      clearTimeout(timer);
      this.handshaking.delete(sock);
      if (err !== undefined || this.closing !== null) {
        sock.destroy();
        if (err !== undefined && (err as { code?: string }).code !== 'ERR_ZEROSOCK_SOCKET_CLOSED')
          this.emit('tlsClientError', err, sock);
        return;
      }
      this.emit('secureConnection', sock);
      this.handOut(sock);
    });
  }

  /** @internal Engine event: the listener failed. */
  onError(errno: number, syscall: string): void {
    this.emit('error', systemError(errno, syscall));
  }

  /** @internal Engine event: the listener is closed. */
  onClosed(): void {
    const engine = this.engine!;
    this.listening = false;
    engine.detach(this.id);
    if (this.referenced) engine.unref();
    this.maybeClosed();
  }

  private maybeClosed(): void {
    if (this.closedResolve === null || this.listening || this.connections.size > 0) return;
    const resolve = this.closedResolve;
    this.closedResolve = null;
    this.emit('close');
    resolve();
  }
}

/**
 * A failed bind or listen, shaped as node:net reports it: syscall `'listen'`, and the message
 * `listen EADDRINUSE: address already in use 127.0.0.1:8080` (or the socket's path).
 */
function toListenError(err: Error, where: string, port?: number): Error {
  const e = nativeSysError(err, where, port) as Partial<SystemError> & Error;
  if (typeof e.errno !== 'number' || typeof e.code !== 'string') return e;
  const description = getSystemErrorMap().get(e.errno)?.[1] ?? e.code;
  e.syscall = 'listen';
  e.message = `listen ${e.code}: ${description} ${port === undefined ? where : `${where}:${port}`}`;
  return e;
}

/** Creates a server; `onConnection` is added as a `'connection'` listener. */
export function createServer(
  options?: ServerOptions | ((socket: Socket) => void),
  onConnection?: (socket: Socket) => void,
): Server {
  if (typeof options === 'function') return new Server({}, options);
  return new Server(options ?? {}, onConnection);
}
