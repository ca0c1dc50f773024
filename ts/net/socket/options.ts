/**
 * The options every socket takes (`connect()` and `createServer()`): their types, their
 * defaults that come from the environment, and their validation.
 */
import { InvalidArgumentError } from '../../core/errors';
import { describeValue, validateBoolean, validateInt, validateOptions } from '../../core/validate';

/** Auto-cork settings (DESIGN.md §2). */
export interface CorkOptions {
  /** Flush once this many bytes are corked (default and maximum: one pool buffer, 64 KiB). */
  maxBytes?: number;
  /**
   * While an earlier flush of this socket is still with the kernel, hold new small sends for
   * up to this long (or until that flush completes) to coalesce more — TCP autocorking's
   * rule. A send after idle never waits. 0 flushes at every end of tick. Default 50.
   * (Timers have millisecond granularity: values below 1000 wait at most ~1 ms.)
   */
  maxDelayUs?: number;
}

/** Options shared by sockets from `connect()` and from a server. */
export interface SocketOptions {
  /** Corking of small sends; `false` sends each message on its own (still one call per tick). */
  cork?: CorkOptions | false;
  /** `send()` returns false once this many bytes wait to reach the kernel (default 1 MiB). */
  highWaterMark?: number;
  /** Keep the writable side open after the peer's FIN (default false, like node:net). */
  allowHalfOpen?: boolean;
  /** `sendZeroCopy()` below this many bytes becomes a corked copy (default 16 KiB). */
  zerocopyThreshold?: number;
  /**
   * Receive by mapping pages (TCP_ZEROCOPY_RECEIVE, epoll backend): mapped 'data' views are
   * READ-ONLY memory — writing to one kills the process. See ts/net/socket/zerocopy.ts. Default false.
   */
  zerocopyReceive?: boolean;
  /**
   * Busy polling: the most µs (0..10000; default 50, or `ZEROSOCK_BUSY_POLL_US`; 0 = off) the
   * JS thread may spin before the event loop sleeps waiting for I/O, so a reply is picked up
   * without a sleep and a wake-up (SO_BUSY_POLL's trade). Adaptive: the budget grows while the
   * waits for zerosock are short (request/response) and drops to 0 when they are long (sparse
   * traffic); it spins only after zerosock work, never while immediates wait, not past the next
   * timer, and stops as soon as any other handle of the loop is ready. The engine (one per
   * thread and backend) uses the largest value of its open sockets.
   */
  busyPollUs?: number;
}

/** Keys of the socket options shared by `connect()` and `createServer()`. */
export const SOCKET_OPTION_KEYS = [
  'cork',
  'highWaterMark',
  'allowHalfOpen',
  'zerocopyThreshold',
  'zerocopyReceive',
  'busyPollUs',
] as const;

/** The busy-poll maximum sockets get when `busyPollUs` is not given (µs). */
export const BUSY_POLL_DEFAULT_US = 50;
let busyPollDefault: number | undefined;

/**
 * The default `busyPollUs`: `ZEROSOCK_BUSY_POLL_US` (an integer 0..10000; 0 turns busy polling
 * off for the process) or {@link BUSY_POLL_DEFAULT_US}. A bad value is reported once as a
 * warning (code `ZEROSOCK_BAD_ENV`) and the built-in default used.
 */
export function defaultBusyPollUs(): number {
  if (busyPollDefault !== undefined) return busyPollDefault;
  const raw = process.env.ZEROSOCK_BUSY_POLL_US;
  busyPollDefault = BUSY_POLL_DEFAULT_US;
  if (raw !== undefined && raw !== '') {
    const n = Number(raw);
    if (/^\d+$/.test(raw.trim()) && n <= 10_000) busyPollDefault = n;
    else
      process.emitWarning(
        `ZEROSOCK_BUSY_POLL_US must be an integer 0..10000 (got ${JSON.stringify(raw)}); ` +
          `using ${BUSY_POLL_DEFAULT_US}`,
        { type: 'ZerosockWarning', code: 'ZEROSOCK_BAD_ENV' },
      );
  }
  return busyPollDefault;
}

/** The largest byte count an option may name (2 GiB - 1). */
const MAX_BYTES = 2 ** 31 - 1;

/**
 * Checks the options every socket takes (connect() and createServer()): typed errors at the
 * call, instead of a socket that misbehaves later. Returns `options`.
 */
export function validateSocketOptions<T extends object>(options: Partial<T>): Partial<T> {
  const o = options as Record<string, unknown>;
  validateInt(o.highWaterMark, 'highWaterMark', 0, MAX_BYTES);
  validateInt(o.zerocopyThreshold, 'zerocopyThreshold', 0, MAX_BYTES);
  validateInt(o.busyPollUs, 'busyPollUs', 0, 10_000);
  validateBoolean(o.allowHalfOpen, 'allowHalfOpen');
  validateBoolean(o.zerocopyReceive, 'zerocopyReceive');
  const cork = o.cork;
  if (cork !== undefined && cork !== false) {
    if (typeof cork !== 'object' || cork === null) {
      throw new InvalidArgumentError(
        'ERR_INVALID_ARG_TYPE',
        `The "cork" option must be an object or false. Received ${describeValue(cork)}`,
      );
    }
    const c = validateOptions<CorkOptions>(cork, ['maxBytes', 'maxDelayUs'], 'cork');
    validateInt(c.maxBytes, 'cork.maxBytes', 1, 64 * 1024);
    validateInt(c.maxDelayUs, 'cork.maxDelayUs', 0, 1_000_000);
  }
  return options;
}
