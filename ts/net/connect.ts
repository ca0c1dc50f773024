/** `connect()`: open a TCP or Unix domain connection on a zerosock engine. */
import { engineFor } from '../core/engine';
import { resolveHost } from './resolve-host';
import { Socket } from './socket';
import { abortError, systemError } from '../core/system-error';
import { nativeSysError } from '../core/errors';
import { publishClientSocket, traceConnect } from './diagnostics';
import { validateHost, validateOptions, validatePort } from '../core/validate';
import { SOCKET_OPTION_KEYS, validateSocketOptions, type SocketOptions } from './socket/options';
import { refuseWithPath, unixPathBytes } from './unix-path';
import type { Engine } from '../core/engine';
import { clientTls, startClientTls, type TlsConnectOptions } from './tls';

const CONNECT_KEYS = [...SOCKET_OPTION_KEYS, 'port', 'host', 'path', 'backend', 'signal', 'tls'];

/** Options of {@link connect}. */
export interface ConnectOptions extends SocketOptions {
  /** The TCP port (not with `path`). */
  port?: number;
  /** A Unix domain socket: a filesystem path or an abstract name (`'\0name'`). */
  path?: string;
  /** IP address or name (default `'localhost'`). */
  host?: string;
  /** `'auto'` (default), `'io_uring'` or `'epoll'`. */
  backend?: 'auto' | 'io_uring' | 'epoll';
  /** Aborting rejects with an `AbortError` and closes the socket. */
  signal?: AbortSignal;
  /**
   * TLS (node:tls's client options; `true` for the defaults): `connect()` resolves once the
   * handshake is over and the server verified, and rejects with node:tls's codes
   * (`DEPTH_ZERO_SELF_SIGNED_CERT`, `ERR_TLS_CERT_ALTNAME_INVALID`, …).
   */
  tls?: TlsConnectOptions | true;
}

/**
 * Connects; resolves with an open {@link Socket}, rejects with a Node-style system error.
 * `connect({ port, host })` for TCP, `connect({ path })` or `connect(path)` for a Unix socket.
 * Traced on `zerosock.connect` from the options on; the new socket is published on
 * `zerosock.client.socket` (net/diagnostics.ts).
 */
export async function connect(options: ConnectOptions | string): Promise<Socket> {
  const given = typeof options === 'string' ? { path: options } : options;
  const opts = validateSocketOptions(validateOptions<ConnectOptions>(given, CONNECT_KEYS));
  return traceConnect(opts as ConnectOptions, () => open(opts));
}

/** `connect()` after its options were read: resolves the host, connects, waits for the outcome. */
async function open(opts: Partial<ConnectOptions>): Promise<Socket> {
  const signal = opts.signal;
  const tls = opts.tls === undefined ? null : clientTls(opts.tls, opts.host ?? 'localhost');
  let target: Target;
  if (opts.path !== undefined) {
    refuseWithPath(opts, ['port', 'host'], 'connect()');
    const path = opts.path;
    const bytes = unixPathBytes(path);
    target = { where: path, open: (engine) => engine.native.connectPath(bytes) };
  } else {
    const port = validatePort(opts.port);
    const host = validateHost(opts.host ?? 'localhost');
    if (signal?.aborted) throw abortError(signal);
    const address = await resolveHost(host);
    target = { where: address, port, open: (engine) => engine.native.connect(address, port) };
  }
  if (signal?.aborted) throw abortError(signal);
  const engine = engineFor(opts.backend);
  let id: number;
  try {
    id = target.open(engine);
  } catch (err) {
    throw nativeSysError(err, target.where, target.port);
  }
  const sock = new Socket(engine, id, opts);
  if (tls !== null) {
    try {
      startClientTls(engine, id, tls);
    } catch (err) {
      sock.destroy();
      throw err;
    }
    sock.startTls(false, () => {});
  }
  publishClientSocket(sock);
  return new Promise<Socket>((resolve, reject) => {
    const onAbort = () => {
      if (sock.onConnect === null) return;
      sock.onConnect = null;
      sock.destroy();
      reject(abortError(signal));
    };
    sock.onConnect = (err?: Error) => {
      signal?.removeEventListener('abort', onAbort);
      if (err && typeof (err as { syscall?: unknown }).syscall !== 'string') reject(err);
      else if (err) {
        const e = err as ReturnType<typeof systemError>;
        e.address = target.where;
        if (target.port !== undefined) e.port = target.port;
        const at = target.port === undefined ? target.where : `${target.where}:${target.port}`;
        e.message = `${e.syscall} ${e.code} ${at}`;
        reject(e);
      } else resolve(sock);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Where a connect goes: the address for error reports, and the native call that starts it. */
interface Target {
  where: string;
  port?: number;
  open: (engine: Engine) => number;
}
