import { InvalidArgumentError } from './errors';

/** Throws `ERR_INVALID_ARG_TYPE` / `ERR_OUT_OF_RANGE` unless `port` is an integer 0..65535. */
export function validatePort(port: unknown, name = 'port'): number {
  if (typeof port === 'string' && /^\d+$/.test(port)) port = Number(port);
  if (typeof port !== 'number' || !Number.isFinite(port)) {
    throw new InvalidArgumentError(
      'ERR_INVALID_ARG_TYPE',
      `The "${name}" option must be a number. Received ${describeValue(port)}`,
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
      `The "${name}" option must be a non-empty string. Received ${describeValue(value)}`,
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
      `The "${name}" argument must be an object. Received ${describeValue(value)}`,
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
      `The "${name}" option must be an integer. Received ${describeValue(value)}`,
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
    `The "${name}" option must be a boolean. Received ${describeValue(value)}`,
  );
}

/** How a bad value is named in a message (`type string ("x")`, `an instance of Foo`). */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return `type string (${JSON.stringify(v).slice(0, 40)})`;
  if (typeof v === 'object') return `an instance of ${v.constructor?.name ?? 'Object'}`;
  return `type ${typeof v} (${String(v)})`;
}
