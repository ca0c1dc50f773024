/**
 * fastify on zerosock: `Fastify({ serverFactory: fastifyServerFactory() })`, then
 * `app.listen({ port })` as usual. fastify calls the server's node-style `listen()`, which is
 * zerosock's (see {@link ZerosockHttpServer}).
 */
import type * as nodeHttp from 'node:http';
import { ZerosockError } from '../core/errors';
import { splitHttpOptions, type HttpServerOptions } from './http-options';
import { ZerosockHttpServer, type RequestListener } from './http-server';

/** What fastify passes its `serverFactory` that shapes the server (its own options). */
export interface FastifyFactoryOptions {
  https?: unknown;
  http2?: unknown;
  http?: nodeHttp.ServerOptions | null;
  keepAliveTimeout?: number;
  requestTimeout?: number;
  connectionTimeout?: number;
  maxRequestsPerSocket?: number;
}

/**
 * A fastify `serverFactory` serving on zerosock. `options` are {@link createHttpServer}'s
 * (zerosock's server options, `http` for node:http's); fastify's own server options
 * (`keepAliveTimeout`, `requestTimeout`, `connectionTimeout`, `maxRequestsPerSocket`, `http`)
 * are applied as fastify applies them to the servers it makes. fastify's `https` / `http2`
 * are refused: zerosock serves plain HTTP/1.1, and serving it instead would be silent.
 */
export function fastifyServerFactory(
  options: HttpServerOptions = {},
): (handler: RequestListener, fastifyOptions?: FastifyFactoryOptions) => ZerosockHttpServer {
  splitHttpOptions(options); // a bad key throws here, not at the first request
  return (handler, fastifyOptions = {}) => {
    if (fastifyOptions.https || fastifyOptions.http2) {
      throw new ZerosockError(
        'ERR_ZEROSOCK_INVALID_ARGUMENT',
        "zerosock serves plain HTTP/1.1: fastify's https and http2 options cannot be served by fastifyServerFactory()",
      );
    }
    const http = { ...(fastifyOptions.http ?? {}), ...(options.http ?? {}) };
    const server = new ZerosockHttpServer(handler, { ...options, http });
    const { keepAliveTimeout, requestTimeout, connectionTimeout, maxRequestsPerSocket } =
      fastifyOptions;
    if (keepAliveTimeout !== undefined) server.keepAliveTimeout = keepAliveTimeout;
    if (requestTimeout !== undefined) server.requestTimeout = requestTimeout;
    if (connectionTimeout !== undefined) server.setTimeout(connectionTimeout);
    if (maxRequestsPerSocket !== undefined && maxRequestsPerSocket > 0) {
      server.maxRequestsPerSocket = maxRequestsPerSocket;
    }
    return server;
  };
}
