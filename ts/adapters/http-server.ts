/**
 * `ZerosockHttpServer`: node:http's `Server`, whose listener is zerosock. It listens the way
 * node:net's servers do (`listen(port[, host][, backlog][, cb])`, `listen(options[, cb])`,
 * `'listening'`, `'error'`, `close([cb])`, `'close'` once the connections ended), so a framework
 * that calls `server.listen()` itself (fastify's `serverFactory`, hapi's `listener`) serves on
 * zerosock. It can never open a node:net listener: node:net's own listen path is refused at
 * its choke points with `ERR_ZEROSOCK_NODE_LISTENER`.
 */
import * as nodeHttp from 'node:http';
import { InvalidArgumentError, ZerosockError } from '../core/errors';
import { createServer, type Server, type ServerOptions } from '../net/server';
import type { Socket } from '../net/socket';
import type { SocketDuplex } from '../net/duplex';
import { parseListenArgs, type NodeListenOptions } from './http-listen';
import { splitHttpOptions, type HttpServerOptions } from './http-options';
import type { Address } from '../net/socket/addresses';

/** A node:http request handler. */
export type RequestListener = (req: nodeHttp.IncomingMessage, res: nodeHttp.ServerResponse) => void;

/** How a listen attempt ended: bound, or closed (by `close()` or the signal) before. */
export type ListenOutcome = 'listening' | 'closed' | 'aborted';

/** @internal The listen both faces share (this class's `listen()`, `HttpServer#listen`). */
export const START: unique symbol = Symbol('zerosock.http.start');

/** node:net's ERR_SERVER_NOT_RUNNING, given to `close(cb)` when there was nothing to close. */
function serverNotRunning(): Error {
  return Object.assign(new Error('Server is not running.'), { code: 'ERR_SERVER_NOT_RUNNING' });
}

function alreadyListening(): Error {
  return Object.assign(new Error('Listen method has been called more than once without closing.'), {
    code: 'ERR_SERVER_ALREADY_LISTEN',
  });
}

function nodeListenerRefused(): ZerosockError {
  return new ZerosockError(
    'ERR_ZEROSOCK_NODE_LISTENER',
    'this http.Server is served by zerosock: node:net cannot listen for it (that would open a ' +
      'node:net listener zerosock never sees); call its own listen()',
  );
}

export class ZerosockHttpServer extends nodeHttp.Server {
  readonly #options: ServerOptions;
  #zerosock: Server;
  /** `#zerosock` has been listened on: the next listen takes a fresh one. */
  #used = false;
  #state: 'idle' | 'starting' | 'listening' = 'idle';
  /** `close()` came while binding: close as soon as bound. */
  #cancelStart = false;
  /** zerosock listeners closed whose connections have not all closed yet. */
  #draining = 0;
  #referenced = true;
  readonly #duplexes = new Set<SocketDuplex>();

  static {
    // node:net's `listening` is an accessor (a field here would shadow it): true from bind
    // until close().
    Object.defineProperty(this.prototype, 'listening', {
      configurable: true,
      get(this: ZerosockHttpServer): boolean {
        return this.#state === 'listening';
      },
    });
  }

  constructor(handler?: RequestListener, options?: HttpServerOptions) {
    if (handler !== undefined && typeof handler !== 'function') {
      throw new InvalidArgumentError(
        'ERR_INVALID_ARG_TYPE',
        'The "handler" argument must be a function.',
      );
    }
    const { http, zerosock } = splitHttpOptions(options);
    super(http);
    if (handler !== undefined) this.on('request', handler);
    this.#options = zerosock;
    this.#zerosock = this.#newListener();
  }

  /** The zerosock listener (a new one after each close and listen again). */
  get zerosock(): Server {
    return this.#zerosock;
  }

  /** Open connections (each one a {@link SocketDuplex}); `getConnections(cb)` gives the same. */
  get connectionCount(): number {
    return this.#duplexes.size;
  }

  /**
   * Listens with zerosock, like node:net's `listen()`: `'listening'` (and `cb`) once bound,
   * `'error'` if the kernel refuses (`EADDRINUSE`, `EACCES`: `syscall: 'listen'`, `address`,
   * `port`). Options: `port`, `host`, `backlog`, `signal` (closes the server), `reusePort`,
   * `path`. A bad argument or unsupported option throws, as in node:net.
   */
  override listen(...args: unknown[]): this {
    const { options, callback } = parseListenArgs(args);
    if (this.#state !== 'idle') throw alreadyListening();
    if (callback !== undefined) this.once('listening', callback);
    if (options.signal?.aborted) {
      process.nextTick(() => this.close());
      return this;
    }
    this[START](options).catch((err: Error) => this.emit('error', err));
    return this;
  }

  /** @internal Binds; emits `'listening'`. Rejects with the listen error. */
  async [START](options: NodeListenOptions): Promise<ListenOutcome> {
    if (this.#state !== 'idle') throw alreadyListening();
    const { signal, ...bind } = options;
    this.#state = 'starting';
    this.#cancelStart = false;
    if (this.#used) this.#zerosock = this.#newListener();
    try {
      await this.#zerosock.listen(bind as Parameters<Server['listen']>[0]);
    } catch (err) {
      this.#state = 'idle';
      if (!this.#cancelStart) throw err;
      // Closed while binding: node:net drops such a listen without an error.
      this._emitCloseIfDrained();
      return 'closed';
    }
    this.#used = true;
    this.#state = 'listening';
    if (this.#cancelStart || signal?.aborted) {
      const outcome = this.#cancelStart ? 'closed' : 'aborted';
      if (this.#cancelStart) this.#stopListening();
      else this.close();
      return outcome;
    }
    if (signal !== undefined) {
      const onAbort = () => this.close();
      signal.addEventListener('abort', onAbort, { once: true });
      this.once('close', () => signal.removeEventListener('abort', onAbort));
    }
    try {
      // node:http starts tracking connections (idle ones, timeouts) on 'listening'.
      this.emit('listening');
    } catch (err) {
      // A throwing 'listening' listener is the caller's uncaught exception, as in node:net.
      process.nextTick(() => {
        throw err;
      });
    }
    return 'listening';
  }

  /**
   * Stops accepting; idle keep-alive connections close now, busy ones after their current
   * response; `'close'` (and `cb`) once every connection has closed. `cb` gets
   * `ERR_SERVER_NOT_RUNNING` when the server was not listening, as in node:net.
   */
  override close(callback?: (err?: Error) => void): this {
    if (typeof callback === 'function') {
      if (this.#state === 'idle') this.once('close', () => callback(serverNotRunning()));
      else this.once('close', callback);
    }
    if (this.#state === 'starting') this.#cancelStart = true;
    else if (this.#state === 'listening') this.#stopListening();
    // node:http's part: idle connections, its timeout checks; node:net's: our 'close' check.
    super.close();
    return this;
  }

  /** node:net's hook, called by its close() and here: `'close'` once nothing is open. */
  _emitCloseIfDrained(): void {
    if (this.#state !== 'idle' || this.#draining > 0 || this.#duplexes.size > 0) return;
    process.nextTick(() => this.emit('close'));
  }

  override address(): Address | string | null {
    return this.#state === 'listening' ? this.#zerosock.address() : null;
  }

  override getConnections(cb: (error: Error | null, count: number) => void): this {
    process.nextTick(cb, null, this.#duplexes.size);
    return this;
  }

  /** Destroys every connection (busy or idle) now. */
  override closeAllConnections(): void {
    super.closeAllConnections();
    for (const d of [...this.#duplexes]) d.destroy();
    this.#zerosock.closeAllConnections();
  }

  override ref(): this {
    this.#referenced = true;
    this.#zerosock.ref();
    return this;
  }

  override unref(): this {
    this.#referenced = false;
    this.#zerosock.unref();
    return this;
  }

  /** node:net's choke point for binding (its direct and cluster paths): refused. */
  _listen2(): void {
    process.nextTick(() => this.emit('error', nodeListenerRefused()));
  }

  /** Asked by node:cluster's worker before the primary binds for it: refused, so it never does. */
  _getServerData(): never {
    throw nodeListenerRefused();
  }

  #newListener(): Server {
    const zs = createServer(this.#options, (sock) => this.#accept(sock));
    zs.on('error', (err) => this.emit('error', err));
    if (!this.#referenced) zs.unref();
    return zs;
  }

  #accept(sock: Socket): void {
    if (this.maxConnections != null && this.#duplexes.size >= this.maxConnections) {
      // node:net's 'drop': the connection over maxConnections is closed at once.
      this.emit('drop', {
        localAddress: sock.localAddress,
        localPort: sock.localPort,
        remoteAddress: sock.remoteAddress,
        remotePort: sock.remotePort,
        remoteFamily: sock.remoteFamily,
      });
      sock.destroy();
      return;
    }
    // node:http's own sockets are half-open; it ends them itself after the last response.
    const duplex = sock.toDuplex({ allowHalfOpen: true });
    this.#duplexes.add(duplex);
    duplex.once('close', () => {
      this.#duplexes.delete(duplex);
      this._emitCloseIfDrained();
    });
    (duplex as unknown as { server: unknown }).server = this;
    this.emit('connection', duplex);
  }

  #stopListening(): void {
    this.#state = 'idle';
    this.#draining++;
    const zs = this.#zerosock;
    const undo = this.#endKeepAlive();
    void zs.close().then(() => {
      undo();
      this.#draining--;
      this._emitCloseIfDrained();
    });
  }

  /** Every response in progress (and every request still arriving) is its connection's last. */
  #endKeepAlive(): () => void {
    const onRequest = (_req: nodeHttp.IncomingMessage, res: nodeHttp.ServerResponse) => {
      res.shouldKeepAlive = false;
    };
    this.prependListener('request', onRequest);
    for (const d of this.#duplexes) {
      const res = (d as unknown as { _httpMessage?: nodeHttp.ServerResponse })._httpMessage;
      if (res === undefined || res === null) continue;
      if (!res.headersSent) res.shouldKeepAlive = false;
      else res.once('finish', () => setImmediate(() => this.closeIdleConnections()));
    }
    return () => this.off('request', onRequest);
  }
}
