/** `connect()`: open a TCP connection on a zerosock engine. */
import { engineFor } from '../core/engine';
import { resolveHost } from './resolve-host';
import { Socket } from './socket';
import { abortError, systemError } from '../core/system-error';
import { nativeSysError } from '../core/errors';
import { publishClientSocket, traceConnect } from './diagnostics';
import { validateHost, validateOptions, validatePort } from '../core/validate';
import { SOCKET_OPTION_KEYS, validateSocketOptions, type SocketOptions } from './socket/options';

const CONNECT_KEYS = [...SOCKET_OPTION_KEYS, 'port', 'host', 'backend', 'signal'];

/** Options of {@link connect}. */
export interface ConnectOptions extends SocketOptions {
  port: number;
  /** IP address or name (default `'localhost'`). */
  host?: string;
  /** `'auto'` (default), `'io_uring'` or `'epoll'`. */
  backend?: 'auto' | 'io_uring' | 'epoll';
  /** Aborting rejects with an `AbortError` and closes the socket. */
  signal?: AbortSignal;
}

/**
 * Connects; resolves with an open {@link Socket}, rejects with a Node-style system error.
 * Traced on `zerosock.connect` from the options on; the new socket is published on
 * `zerosock.client.socket` (net/diagnostics.ts).
 */
export async function connect(options: ConnectOptions): Promise<Socket> {
  const opts = validateSocketOptions(validateOptions<ConnectOptions>(options, CONNECT_KEYS));
  return traceConnect(opts as ConnectOptions, () => open(opts));
}

/** `connect()` after its options were read: resolves the host, connects, waits for the outcome. */
async function open(opts: Partial<ConnectOptions>): Promise<Socket> {
  const port = validatePort(opts.port);
  const host = validateHost(opts.host ?? 'localhost');
  const signal = opts.signal;
  if (signal?.aborted) throw abortError(signal);
  const engine = engineFor(opts.backend);
  const address = await resolveHost(host);
  if (signal?.aborted) throw abortError(signal);
  let id: number;
  try {
    id = engine.native.connect(address, port);
  } catch (err) {
    throw nativeSysError(err, address, port);
  }
  const sock = new Socket(engine, id, opts);
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
      if (err) {
        const e = err as ReturnType<typeof systemError>;
        e.address = address;
        e.port = port;
        e.message = `${e.syscall} ${e.code} ${address}:${port}`;
        reject(e);
      } else resolve(sock);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
