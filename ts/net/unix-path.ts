/**
 * Unix domain socket names as `listen({ path })` and `connect({ path })` take them: a
 * filesystem path, or a Linux abstract name (a leading `'\0'`).
 */
import { InvalidArgumentError } from '../core/errors';
import { describeValue } from '../core/validate';

/** `sun_path` holds 108 bytes; a filesystem path needs its terminating NUL among them. */
const SUN_PATH_BYTES = 108;

/**
 * The bytes of a socket name. Throws `ERR_INVALID_ARG_TYPE` unless it is a non-empty string,
 * and `ERR_INVALID_ARG_VALUE` for a NUL inside a path or a name too long for `sun_path`
 * (node:net truncates such a path silently and binds a different one; zerosock refuses).
 */
export function unixPathBytes(value: unknown, name = 'path'): Buffer {
  if (typeof value !== 'string' || value.length === 0) {
    throw new InvalidArgumentError(
      'ERR_INVALID_ARG_TYPE',
      `The "${name}" option must be a non-empty string. Received ${describeValue(value)}`,
    );
  }
  const bytes = Buffer.from(value, 'utf8');
  const abstractName = bytes[0] === 0;
  if (!abstractName && bytes.includes(0)) {
    throw new InvalidArgumentError(
      'ERR_INVALID_ARG_VALUE',
      `The "${name}" option must not contain a NUL byte (only an abstract name starts with one)`,
    );
  }
  const max = abstractName ? SUN_PATH_BYTES : SUN_PATH_BYTES - 1;
  if (bytes.length > max) {
    throw new InvalidArgumentError(
      'ERR_INVALID_ARG_VALUE',
      `The "${name}" option is ${bytes.length} bytes; a Unix socket name holds at most ${max}`,
    );
  }
  return bytes;
}

/** Throws `ERR_INVALID_ARG_VALUE` when options for TCP and for a Unix socket are mixed. */
export function refuseWithPath(options: object, keys: readonly string[], what: string): void {
  for (const key of keys) {
    if ((options as Record<string, unknown>)[key] !== undefined) {
      throw new InvalidArgumentError(
        'ERR_INVALID_ARG_VALUE',
        `The "${key}" option does not apply to ${what} with "path" (a Unix domain socket)`,
      );
    }
  }
}
