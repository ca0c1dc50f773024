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
import type { ListenOptions, Server } from '../net/server';
import { abortError } from '../core/system-error';
import { validateOptions } from '../core/validate';
import type { Address } from '../net/socket/addresses';
import type { HttpServerOptions } from './http-options';
import { START, ZerosockHttpServer, type RequestListener } from './http-server';

export type { HttpServerOptions } from './http-options';
export type { RequestListener } from './http-server';

/** Options of {@link HttpServer.close}. */
export interface HttpCloseOptions {
  /**
   * After this many ms, connections still busy are destroyed (default: wait for them, like
   * node:http; idle keep-alive connections are closed at once either way).
   */
  timeoutMs?: number;
}

/**
 * The promise-shaped face of {@link ZerosockHttpServer}: `await listen()`, `await close()`.
 * Emits `'listening'`, `'close'` and `'error'` (listener errors) of its `httpServer`;
 * everything HTTP (`'request'`, `'upgrade'`, `'clientError'`, timeouts, limits) lives on
 * {@link HttpServer.httpServer}, the real `http.Server` — which listens on zerosock too when
 * a framework calls its node-style `listen()`.
 */
export class HttpServer extends EventEmitter {
  /** The node:http server; its `listen()` listens on zerosock (never on node:net). */
  readonly httpServer: ZerosockHttpServer;
  private closing: Promise<void> | null = null;

  constructor(handler?: RequestListener, options: HttpServerOptions = {}) {
    super();
    const httpServer = new ZerosockHttpServer(handler, options);
    this.httpServer = httpServer;
    httpServer.on('listening', () => this.emit('listening'));
    httpServer.on('close', () => this.emit('close'));
    httpServer.on('error', (err) => {
      // Ours to report when nobody else listens on the http.Server (unhandled: it throws).
      if (this.listenerCount('error') > 0 || httpServer.listenerCount('error') === 1) {
        this.emit('error', err);
      }
    });
  }

  /** The zerosock listener. */
  get server(): Server {
    return this.httpServer.zerosock;
  }

  /**
   * Listens with zerosock (`reusePort` lets several workers share the port: see
   * `startWorkers`). Resolves once bound; `signal` aborts a pending listen (AbortError) or
   * closes the server later, like {@link HttpServer.close}.
   */
  async listen(options: ListenOptions | number = {}, host?: string): Promise<this> {
    const opts: ListenOptions = typeof options === 'number' ? { port: options, host } : options;
    if (opts?.signal?.aborted) throw abortError(opts.signal);
    const outcome = await this.httpServer[START]((opts ?? {}) as ListenOptions);
    if (outcome !== 'listening') {
      await this.close();
      if (outcome === 'aborted') throw abortError(opts.signal);
      throw Object.assign(new Error('The server was closed before it was listening.'), {
        code: 'ERR_SERVER_NOT_RUNNING',
      });
    }
    return this;
  }

  /** The bound address, like `server.address()` of node:net. */
  address(): Address | string | null {
    return this.httpServer.address();
  }

  /** True while listening. */
  get listening(): boolean {
    return this.httpServer.listening;
  }

  /** Open connections (each one a {@link SocketDuplex}). */
  get connections(): number {
    return this.httpServer.connectionCount;
  }

  /**
   * Graceful close: stops accepting, closes idle keep-alive connections at once and busy ones
   * after their current response (node:http's own close semantics); resolves when every
   * connection has closed. With `timeoutMs`, connections still open then are destroyed.
   */
  close(options: HttpCloseOptions = {}): Promise<void> {
    validateOptions(options, ['timeoutMs']);
    if (this.closing !== null) return this.closing;
    let timer: NodeJS.Timeout | undefined;
    // Resolves on 'close' either way (`ERR_SERVER_NOT_RUNNING` only says nothing listened).
    const closed = new Promise<void>((resolve) => this.httpServer.close(() => resolve()));
    if (options.timeoutMs !== undefined) {
      timer = setTimeout(() => this.closeAllConnections(), options.timeoutMs);
      timer.unref();
    }
    const closing = closed.then(() => {
      if (timer !== undefined) clearTimeout(timer);
      if (this.closing === closing) this.closing = null;
    });
    this.closing = closing;
    return closing;
  }

  /** Destroys every connection (busy or idle) now. */
  closeAllConnections(): void {
    this.httpServer.closeAllConnections();
  }

  /** Closes connections that wait for their next request (keep-alive). */
  closeIdleConnections(): void {
    this.httpServer.closeIdleConnections();
  }

  /** Lets the process exit while the server listens. */
  unref(): this {
    this.httpServer.unref();
    return this;
  }

  ref(): this {
    this.httpServer.ref();
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
export const http: {
  createServer: typeof createHttpServer;
  HttpServer: typeof HttpServer;
  ZerosockHttpServer: typeof ZerosockHttpServer;
} = {
  createServer: createHttpServer,
  HttpServer,
  ZerosockHttpServer,
};
