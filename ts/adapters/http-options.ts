/**
 * The options of an HTTP server on zerosock: zerosock's server options plus `http`, node:http's
 * own, each key checked (an unknown key is a typo node:http would ignore without a word).
 */
import type * as nodeHttp from 'node:http';
import { InvalidArgumentError } from '../core/errors';
import { validateOptions } from '../core/validate';
import { SERVER_KEYS, type ServerOptions } from '../net/server';

/** Options of {@link createHttpServer}: zerosock's server options plus node:http's. */
export interface HttpServerOptions extends ServerOptions {
  /**
   * Passed to `http.createServer()` (keepAlive timeouts, maxHeaderSize, IncomingMessage class…).
   * Timeouts can also be set later on the `http.Server`.
   */
  http?: nodeHttp.ServerOptions;
}

/** node:http's server options (Node 20 to 26). */
const HTTP_KEYS = [
  'connectionsCheckingInterval',
  'headersTimeout',
  'highWaterMark',
  'httpValidation',
  'insecureHTTPParser',
  'IncomingMessage',
  'joinDuplicateHeaders',
  'keepAlive',
  'keepAliveInitialDelay',
  'keepAliveTimeout',
  'keepAliveTimeoutBuffer',
  'maxHeaderSize',
  'noDelay',
  'optimizeEmptyRequests',
  'rejectNonStandardBodyWrites',
  'requestTimeout',
  'requireHostHeader',
  'ServerResponse',
  'shouldUpgradeCallback',
  'uniqueHeaders',
];

/**
 * node:http keys that node:net applies to the sockets it accepts, and zerosock does not:
 * the value that holds on zerosock's sockets is accepted, any other refused.
 */
const NET_SOCKET_KEYS: Record<string, unknown> = {
  noDelay: true, // zerosock sets TCP_NODELAY on every socket (corking is its own)
  keepAlive: false, // TCP keep-alive probes are not set by zerosock
  keepAliveInitialDelay: 0,
};

/** Splits and checks {@link HttpServerOptions}; throws `ERR_INVALID_ARG_VALUE` naming a bad key. */
export function splitHttpOptions(options: HttpServerOptions | undefined): {
  http: nodeHttp.ServerOptions;
  zerosock: ServerOptions;
} {
  const all = validateOptions<HttpServerOptions>(options, [...SERVER_KEYS, 'http']);
  const { http, ...zerosock } = all;
  const checked = validateOptions<nodeHttp.ServerOptions>(http, HTTP_KEYS, 'http');
  for (const [key, holds] of Object.entries(NET_SOCKET_KEYS)) {
    const value = (checked as Record<string, unknown>)[key];
    if (value === undefined || value === holds) continue;
    throw new InvalidArgumentError(
      'ERR_INVALID_ARG_VALUE',
      `The "http.${key}" option is a node:net socket option zerosock does not apply; on zerosock it is always ${String(holds)}`,
    );
  }
  return { http: checked, zerosock };
}
