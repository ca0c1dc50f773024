/** `Server`: a listening socket on a zerosock engine, shaped like node:net's. */
import { EventEmitter } from 'node:events';
import { engineFor, Sub, type Engine, type ListenerSink } from '../core/engine';
import { callNative, nativeSysError, ZerosockError } from '../core/errors';
import { publishServerSocket, traceListen } from './diagnostics';
import { resolveHost } from './resolve-host';
import { Socket } from './socket';
import { abortError, systemError } from '../core/system-error';
import { validateHost, validateInt, validateOptions, validatePort } from '../core/validate';
import { SOCKET_OPTION_KEYS, validateSocketOptions, type SocketOptions } from './socket/options';

/** Options of {@link createServer}. */
const SERVER_KEYS = [...SOCKET_OPTION_KEYS, 'backend'];
const LISTEN_KEYS = ['port', 'host', 'backlog', 'reusePort', 'signal'];

export interface ServerOptions extends SocketOptions {
  /** `'auto'` (default), `'io_uring'` or `'epoll'`; `ZEROSOCK_BACKEND` decides for `auto`. */
  backend?: 'auto' | 'io_uring' | 'epoll';
}

/** Options of {@link Server.listen}. */
export interface ListenOptions {
  port?: number;
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
  private referenced = true;
  /** True while listening. */
  listening = false;

  constructor(options: ServerOptions = {}, onConnection?: (socket: Socket) => void) {
    super();
    this.options = validateSocketOptions(validateOptions<ServerOptions>(options, SERVER_KEYS));
    engineFor(this.options.backend); // validates the backend now, not at listen()
    if (onConnection !== undefined) this.on('connection', onConnection);
  }

  /**
   * Starts listening; resolves once bound (port 0 picks a free port: see `address()`). Traced
   * on `zerosock.server.listen` (net/diagnostics.ts) from the options on.
   */
  async listen(options: ListenOptions | number = {}, host?: string): Promise<this> {
    const opts: ListenOptions =
      typeof options === 'number'
        ? { port: options, host }
        : validateOptions<ListenOptions>(options, LISTEN_KEYS);
    if (this.listening || this.engine !== null) {
      throw new ZerosockError('ERR_ZEROSOCK_BAD_SOCKET', 'the server is already listening');
    }
    return traceListen(this, opts, () => this.startListening(opts));
  }

  /** `listen()` after its options were read: resolves the host, binds, starts accepting. */
  private async startListening(opts: ListenOptions): Promise<this> {
    const port = validatePort(opts.port ?? 0);
    const backlog = validateInt(opts.backlog, 'backlog', 1, 65535) ?? 511;
    if (opts.signal?.aborted) throw abortError(opts.signal);
    const engine = engineFor(this.options.backend);
    let address: string;
    let fallback: string | null = null;
    if (opts.host === undefined) {
      address = '::';
      fallback = '0.0.0.0';
    } else {
      address = await resolveHost(validateHost(opts.host));
    }
    if (opts.signal?.aborted) throw abortError(opts.signal);
    let id: number;
    try {
      id = this.bind(engine, address, port, backlog, opts.reusePort === true);
    } catch (err) {
      if (fallback === null) throw err;
      id = this.bind(engine, fallback, port, backlog, opts.reusePort === true);
    }
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

  /** The bound address, like node:net's `server.address()`. */
  address(): { address: string; family: string; port: number } | null {
    if (!this.listening || this.engine === null) return null;
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
    this.emit('connection', sock);
    publishServerSocket(sock, this); // after 'connection', like node:net's net.server.socket
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

function toListenError(err: Error, host: string, port: number): Error {
  return nativeSysError(err, host, port);
}

/** Creates a server; `onConnection` is added as a `'connection'` listener. */
export function createServer(
  options?: ServerOptions | ((socket: Socket) => void),
  onConnection?: (socket: Socket) => void,
): Server {
  if (typeof options === 'function') return new Server({}, options);
  return new Server(options ?? {}, onConnection);
}
