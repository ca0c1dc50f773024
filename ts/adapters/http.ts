/**
 * HTTP/1.1 on zerosock: a zerosock listener whose connections are handed to a node:http
 * server as {@link SocketDuplex} streams, so every node:http handler, framework or middleware
 * (Express-style `(req, res)` handlers) runs unchanged.
 *
 * ```js
 * import { createHttpServer } from 'zerosock'; // or: import { http } from 'zerosock'; http.createServer
 * const server = createHttpServer((req, res) => res.end('hello'));
 * await server.listen({ port: 8080, reusePort: true });
 * // ...
 * await server.close();
 * ```
 */
import { EventEmitter } from 'node:events';
import * as nodeHttp from 'node:http';
import { createServer, type ListenOptions, type Server, type ServerOptions } from '../net/server';
import type { SocketDuplex } from '../net/duplex';
import { abortError } from '../core/system-error';
import { InvalidArgumentError } from '../core/errors';

/** A node:http request handler. */
export type RequestListener = (req: nodeHttp.IncomingMessage, res: nodeHttp.ServerResponse) => void;

/** Options of {@link createHttpServer}: zerosock's server options plus node:http's. */
export interface HttpServerOptions extends ServerOptions {
  /**
   * Passed to `http.createServer()` (keepAlive timeouts, maxHeaderSize, IncomingMessage class…).
   * Timeouts can also be set later on {@link HttpServer.httpServer}.
   */
  http?: nodeHttp.ServerOptions;
}

/** Options of {@link HttpServer.close}. */
export interface HttpCloseOptions {
  /**
   * After this many ms, connections still busy are destroyed (default: wait for them, like
   * node:http; idle keep-alive connections are closed at once either way).
   */
  timeoutMs?: number;
}

/**
 * A node:http server fed by a zerosock listener. Emits `'listening'`, `'close'` and
 * `'error'` (listener errors); everything HTTP (`'request'`, `'upgrade'`, `'clientError'`,
 * timeouts, limits) lives on {@link HttpServer.httpServer}, the real `http.Server`.
 */
export class HttpServer extends EventEmitter {
  /** The node:http server that parses requests; it never listens itself. */
  readonly httpServer: nodeHttp.Server;
  /** The zerosock listener. */
  readonly server: Server;
  private readonly duplexes = new Set<SocketDuplex>();
  private closing: Promise<void> | null = null;
  private onNoConnections: (() => void) | null = null;

  constructor(handler?: RequestListener, options: HttpServerOptions = {}) {
    super();
    if (handler !== undefined && typeof handler !== 'function') {
      throw new InvalidArgumentError(
        'ERR_INVALID_ARG_TYPE',
        'The "handler" argument must be a function.',
      );
    }
    const { http: httpOptions, ...zerosockOptions } = options ?? {};
    this.httpServer =
      handler === undefined
        ? nodeHttp.createServer(httpOptions ?? {})
        : nodeHttp.createServer(httpOptions ?? {}, handler);
    this.server = createServer(zerosockOptions, (sock) => {
      // node:http's own sockets are half-open; it ends them itself after the last response.
      const duplex = sock.toDuplex({ allowHalfOpen: true });
      this.duplexes.add(duplex);
      duplex.once('close', () => {
        this.duplexes.delete(duplex);
        if (this.duplexes.size === 0) this.onNoConnections?.();
      });
      (duplex as unknown as { server: unknown }).server = this.httpServer;
      this.httpServer.emit('connection', duplex);
    });
    this.server.on('error', (err) => this.emit('error', err));
  }

  /**
   * Listens with zerosock (`reusePort` lets several workers share the port: see
   * `startWorkers`). Resolves once bound; `signal` aborts a pending listen (AbortError) or
   * closes the server later, like {@link HttpServer.close}.
   */
  async listen(options: ListenOptions | number = {}, host?: string): Promise<this> {
    const opts: ListenOptions = typeof options === 'number' ? { port: options, host } : options;
    const signal = opts?.signal;
    if (signal?.aborted) throw abortError(signal);
    await this.server.listen({ ...opts, signal: undefined });
    if (signal !== undefined) {
      if (signal.aborted) {
        await this.close();
        throw abortError(signal);
      }
      signal.addEventListener('abort', () => void this.close(), { once: true });
    }
    // node:http starts its header/request timeout checks on 'listening'.
    this.httpServer.emit('listening');
    this.emit('listening');
    return this;
  }

  /** The bound address, like `server.address()` of node:net. */
  address(): { address: string; family: string; port: number } | string | null {
    return this.server.address();
  }

  /** True while listening. */
  get listening(): boolean {
    return this.server.listening;
  }

  /** Open connections (each one a {@link SocketDuplex}). */
  get connections(): number {
    return this.duplexes.size;
  }

  /**
   * Graceful close: stops accepting, closes idle keep-alive connections at once and busy ones
   * after their current response (node:http's own close semantics); resolves when every
   * connection has closed. With `timeoutMs`, connections still open then are destroyed.
   */
  close(options: HttpCloseOptions = {}): Promise<void> {
    if (this.closing !== null) return this.closing;
    const closed = this.server.close();
    // Responses in progress: once each finishes, its connection is idle and gets closed.
    const onRequest = (_req: nodeHttp.IncomingMessage, res: nodeHttp.ServerResponse) => {
      res.shouldKeepAlive = false;
    };
    this.httpServer.prependListener('request', onRequest);
    for (const d of this.duplexes) {
      const res = (d as unknown as { _httpMessage?: nodeHttp.ServerResponse })._httpMessage;
      if (res === undefined || res === null) continue;
      if (!res.headersSent) res.shouldKeepAlive = false;
      else res.once('finish', () => setImmediate(() => this.httpServer.closeIdleConnections()));
    }
    // node:http's close: clears its timers, closes idle connections, emits its 'close'.
    this.httpServer.close(() => {});
    let timer: NodeJS.Timeout | undefined;
    if (options.timeoutMs !== undefined) {
      timer = setTimeout(() => this.closeAllConnections(), options.timeoutMs);
      timer.unref();
    }
    this.closing = closed.then(async () => {
      // The sockets are closed; their duplexes emit 'close' right after (next tick).
      if (this.duplexes.size > 0) {
        await new Promise<void>((resolve) => (this.onNoConnections = resolve));
      }
      if (timer !== undefined) clearTimeout(timer);
      this.httpServer.off('request', onRequest);
      this.emit('close');
    });
    return this.closing;
  }

  /** Destroys every connection (busy or idle) now. */
  closeAllConnections(): void {
    for (const d of [...this.duplexes]) d.destroy();
    this.server.closeAllConnections();
  }

  /** Closes connections that wait for their next request (keep-alive). */
  closeIdleConnections(): void {
    this.httpServer.closeIdleConnections();
  }

  /** Lets the process exit while the server listens. */
  unref(): this {
    this.server.unref();
    return this;
  }

  ref(): this {
    this.server.ref();
    return this;
  }
}

/**
 * Creates an HTTP/1.1 server on zerosock: `handler` is node:http's request listener. Also
 * reachable as `http.createServer(handler, options)` from `'zerosock'`.
 */
export function createHttpServer(
  handler?: RequestListener | HttpServerOptions,
  options?: HttpServerOptions | RequestListener,
): HttpServer {
  // node:http's order (options, handler) works too.
  if (typeof handler === 'object' && handler !== null) {
    return new HttpServer(options as RequestListener | undefined, handler);
  }
  return new HttpServer(handler, (options as HttpServerOptions | undefined) ?? {});
}

/** `zerosock.http.createServer(handler, options?)`: the same as {@link createHttpServer}. */
export const http: { createServer: typeof createHttpServer; HttpServer: typeof HttpServer } = {
  createServer: createHttpServer,
  HttpServer,
};
