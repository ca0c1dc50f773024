import { InvalidArgumentError } from './errors';

/** Throws `ERR_INVALID_ARG_TYPE` / `ERR_OUT_OF_RANGE` unless `port` is an integer 0..65535. */
export function validatePort(port: unknown, name = 'port'): number {
  if (typeof port === 'string' && /^\d+$/.test(port)) port = Number(port);
  if (typeof port !== 'number' || !Number.isFinite(port)) {
    throw new InvalidArgumentError(
      'ERR_INVALID_ARG_TYPE',
      `The "${name}" option must be a number. Received ${describe(port)}`,
    );
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidArgumentError(
      'ERR_OUT_OF_RANGE',
      `The "${name}" option must be an integer >= 0 and <= 65535. Received ${port}`,
    );
  }
  return port;
}

/** Throws `ERR_INVALID_ARG_TYPE` unless `value` is a non-empty string. */
export function validateHost(value: unknown, name = 'host'): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new InvalidArgumentError(
      'ERR_INVALID_ARG_TYPE',
      `The "${name}" option must be a non-empty string. Received ${describe(value)}`,
    );
  }
  return value;
}

/** Throws `ERR_INVALID_ARG_TYPE` unless `value` is an object (or undefined → `{}`). */
export function validateOptions<T extends object>(
  value: unknown,
  keys: readonly string[],
  name = 'options',
): Partial<T> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object') {
    throw new InvalidArgumentError(
      'ERR_INVALID_ARG_TYPE',
      `The "${name}" argument must be an object. Received ${describe(value)}`,
    );
  }
  // An unknown key is a mistake the caller would never see otherwise (e.g. `listen({ path })`
  // binding TCP): refuse it by name.
  for (const key of Object.keys(value)) {
    if (!keys.includes(key)) {
      throw new InvalidArgumentError(
        'ERR_INVALID_ARG_VALUE',
        `The "${name}" argument has an unknown key "${key}"; known keys: ${keys.join(', ')}`,
      );
    }
  }
  return value as Partial<T>;
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

/** Throws `ERR_OUT_OF_RANGE` unless `value` is undefined or an integer in [min, max]. */
export function validateInt(
  value: unknown,
  name: string,
  min: number,
  max: number,
): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new InvalidArgumentError(
      'ERR_INVALID_ARG_TYPE',
      `The "${name}" option must be an integer. Received ${describe(value)}`,
    );
  }
  if (value < min || value > max) {
    throw new InvalidArgumentError(
      'ERR_OUT_OF_RANGE',
      `The "${name}" option must be >= ${min} and <= ${max}. Received ${value}`,
    );
  }
  return value;
}

/** Throws `ERR_INVALID_ARG_TYPE` unless `value` is undefined or a boolean. */
export function validateBoolean(value: unknown, name: string): boolean | undefined {
  if (value === undefined || typeof value === 'boolean') return value;
  throw new InvalidArgumentError(
    'ERR_INVALID_ARG_TYPE',
    `The "${name}" option must be a boolean. Received ${describe(value)}`,
  );
}

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
        `The "cork" option must be an object or false. Received ${describe(cork)}`,
      );
    }
    const c = cork as Record<string, unknown>;
    validateInt(c.maxBytes, 'cork.maxBytes', 1, 64 * 1024);
    validateInt(c.maxDelayUs, 'cork.maxDelayUs', 0, 1_000_000);
  }
  return options;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return `type string (${JSON.stringify(v).slice(0, 40)})`;
  if (typeof v === 'object') return `an instance of ${v.constructor?.name ?? 'Object'}`;
  return `type ${typeof v} (${String(v)})`;
}
