import { getSystemErrorName } from 'node:util';

/** A Node-style system error: `code` ('ECONNRESET'), negative `errno`, `syscall`, address. */
export interface SystemError extends Error {
  code: string;
  errno: number;
  syscall: string;
  address?: string;
  port?: number;
}

/** Builds an error shaped like node:net's from a positive errno and the failing syscall. */
export function systemError(
  errno: number,
  syscall: string,
  address?: string,
  port?: number,
): SystemError {
  let code: string;
  try {
    code = getSystemErrorName(-Math.abs(errno));
  } catch {
    code = `Unknown system error ${errno}`;
  }
  const where = address !== undefined ? ` ${address}${port !== undefined ? `:${port}` : ''}` : '';
  const err = new Error(`${syscall} ${code}${where}`) as SystemError;
  err.code = code;
  err.errno = -Math.abs(errno);
  err.syscall = syscall;
  if (address !== undefined) err.address = address;
  if (port !== undefined) err.port = port;
  return err;
}

/** The error node:net gives an aborted operation (`name` 'AbortError', `code` 'ABORT_ERR'). */
export function abortError(signal?: AbortSignal): Error {
  const err = new Error('The operation was aborted', { cause: signal?.reason }) as Error & {
    code: string;
  };
  err.name = 'AbortError';
  err.code = 'ABORT_ERR';
  return err;
}
