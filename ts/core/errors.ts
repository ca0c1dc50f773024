import { constants as osConstants } from 'node:os';
import { systemError } from './system-error';

/**
 * Errors thrown or emitted by zerosock.
 *
 * Misuse (closed socket, released view, bad argument) raises a {@link ZerosockError} whose
 * `code` is stable and documented. Failures of the operating system are Node-style system
 * errors (`code` such as `'ECONNRESET'`, negative `errno`, `syscall`), like node:net's.
 */

/** Every stable `code` a {@link ZerosockError} can carry. */
export type ZerosockErrorCode =
  | 'ERR_ZEROSOCK_NATIVE_LOAD'
  | 'ERR_ZEROSOCK_INVALID_BACKEND'
  | 'ERR_ZEROSOCK_BACKEND_UNAVAILABLE'
  | 'ERR_ZEROSOCK_SOCKET_CLOSED'
  | 'ERR_ZEROSOCK_BAD_SOCKET'
  | 'ERR_ZEROSOCK_BUFFER_RELEASED'
  | 'ERR_ZEROSOCK_BAD_BUFFER'
  | 'ERR_ZEROSOCK_BUFFER_IN_FLIGHT'
  | 'ERR_ZEROSOCK_POOL_EXHAUSTED'
  | 'ERR_ZEROSOCK_POOL_CONFIG'
  | 'ERR_ZEROSOCK_POOL_MMAP'
  | 'ERR_ZEROSOCK_RING_CAPACITY'
  | 'ERR_ZEROSOCK_RING_MESSAGE_TOO_LARGE'
  | 'ERR_ZEROSOCK_RING_BAD_HEADER'
  | 'ERR_ZEROSOCK_RING_BAD_MEMORY'
  | 'ERR_ZEROSOCK_RING_CORRUPT'
  | 'ERR_ZEROSOCK_RING_RECORD_SIZE'
  | 'ERR_ZEROSOCK_WRONG_SOCKET_KIND'
  | 'ERR_ZEROSOCK_INVALID_ARGUMENT'
  | 'ERR_ZEROSOCK_WORKER'
  | 'ERR_ZEROSOCK_INTERNAL'
  | 'ERR_ZEROSOCK_STRANDED_SUBMIT'
  | 'ERR_ZEROSOCK_NODE_LISTENER'
  | 'ERR_INVALID_ARG_TYPE'
  | 'ERR_INVALID_ARG_VALUE'
  | 'ERR_OUT_OF_RANGE';

/** A misuse of the zerosock API, or a zerosock-specific failure. Check `code`, not the message. */
export class ZerosockError extends Error {
  /** Stable, machine-readable code, e.g. `'ERR_ZEROSOCK_SOCKET_CLOSED'`. */
  readonly code: ZerosockErrorCode;

  constructor(code: ZerosockErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ZerosockError';
    this.code = code;
  }
}

/** A bad argument: wrong type (`ERR_INVALID_ARG_TYPE`), value (`ERR_INVALID_ARG_VALUE`) or range (`ERR_OUT_OF_RANGE`). */
export class InvalidArgumentError extends ZerosockError {
  constructor(
    code: 'ERR_INVALID_ARG_TYPE' | 'ERR_INVALID_ARG_VALUE' | 'ERR_OUT_OF_RANGE',
    message: string,
  ) {
    super(code, message);
    this.name = 'InvalidArgumentError';
  }
}

/** Codes a native error can carry that are a {@link ZerosockError}'s. */
const ZEROSOCK_CODE = /^(ERR_ZEROSOCK_[A-Z_]+|ERR_INVALID_ARG_[A-Z_]+|ERR_OUT_OF_RANGE)$/;

/** The `code` the binding set on a native error (a napi custom status), if any. */
function nativeCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * The one place native errors are mapped: the binding throws errors whose `code` is stable
 * (`ERR_ZEROSOCK_…`); anything else is an internal failure.
 */
export function fromNative(err: unknown): Error {
  if (err instanceof ZerosockError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const code = nativeCode(err);
  if (code !== undefined && ZEROSOCK_CODE.test(code)) {
    return new ZerosockError(code as ZerosockErrorCode, message, { cause: err });
  }
  return new ZerosockError('ERR_ZEROSOCK_INTERNAL', message, { cause: err });
}

/** Calls a native function, mapping what it throws with {@link fromNative}. */
export function callNative<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw fromNative(err);
  }
}

/**
 * Native system-call failures arrive with the errno's name as `code` (`'ECONNREFUSED'`) and
 * the syscall as message; this turns them into Node-style system errors (and anything else
 * through {@link fromNative}).
 */
export function nativeSysError(err: unknown, address?: string, port?: number): Error {
  const errno = osConstants.errno[nativeCode(err) as keyof typeof osConstants.errno];
  if (errno !== undefined) return systemError(errno, (err as Error).message, address, port);
  return fromNative(err);
}
