/**
 * `sock.sendFile()`: a file range rides the socket's native send queue as a segment of its own
 * (SEND_FILE record), so it leaves after what was sent before it and before what is sent after
 * it. The kernel moves the bytes (epoll: sendfile(2); io_uring: splice file → pipe → socket);
 * they never enter JS. On a TLS socket native reads the file and encrypts it (a copy, reported as
 * `copied: true`), in the same order. Native sends from its own duplicate of the descriptor, so a path is
 * opened here and closed as soon as native has its duplicate, and a caller's fd is never
 * closed. FILE_SENT records come back in queue order, one per call.
 */
import * as fs from 'node:fs';
import { Sub, type Engine } from '../../core/engine';
import { InvalidArgumentError, ZerosockError } from '../../core/errors';
import { systemError } from '../../core/system-error';
import { validateOptions } from '../../core/validate';

/** Options of `sendFile()`. */
export interface SendFileOptions {
  /** First byte of the file to send (default 0). */
  offset?: number;
  /** Bytes to send (default: to the end of the file). */
  length?: number;
}

/** What `sendFile()` resolves with. */
export interface SendFileResult {
  /** Bytes of the file the kernel took. */
  bytes: number;
  /**
   * True when the bytes passed through a buffer of zerosock's: on a TLS socket the file is read
   * and encrypted from a copy. False: the kernel moved them from the page cache.
   */
  copied: boolean;
}

const SEND_FILE_KEYS = ['offset', 'length'] as const;

/** What the file sender needs of its socket. */
export interface FileSenderHost {
  /** Throws unless sends may be queued; seals what is corked; counts `n` pending bytes. */
  beforeFile(n: number): void;
  /** `n` bytes counted by `beforeFile` will never be sent (the file ended early or failed). */
  fileShort(n: number): void;
  /** A TLS socket: native reads and encrypts the file (a copy). */
  readonly encrypted: boolean;
}

interface Pending {
  expected: number;
  resolve: (r: SendFileResult) => void;
  reject: (e: Error) => void;
}

function checkInt(value: unknown, name: string): number {
  if (typeof value !== 'number') {
    throw new InvalidArgumentError(
      'ERR_INVALID_ARG_TYPE',
      `The "${name}" argument must be of type number. Received ${typeof value}`,
    );
  }
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new InvalidArgumentError(
      'ERR_OUT_OF_RANGE',
      `The value of "${name}" is out of range. It must be an integer >= 0. Received ${value}`,
    );
  }
  return value;
}

export class FileSender {
  private readonly queue: Pending[] = [];

  constructor(
    private readonly engine: Engine,
    private readonly id: number,
    private readonly host: FileSenderHost,
  ) {}

  /** Files submitted and not reported yet. */
  get pending(): number {
    return this.queue.length;
  }

  send(file: unknown, options?: unknown): Promise<SendFileResult> {
    try {
      return this.start(file, options);
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  private start(file: unknown, options: unknown): Promise<SendFileResult> {
    const opts = validateOptions<SendFileOptions>(options, SEND_FILE_KEYS);
    if (typeof file !== 'string' && typeof file !== 'number') {
      throw new InvalidArgumentError(
        'ERR_INVALID_ARG_TYPE',
        `The "file" argument must be of type string or number. Received ${file === null ? 'null' : typeof file}`,
      );
    }
    const offset = opts.offset === undefined ? 0 : checkInt(opts.offset, 'options.offset');
    const length = opts.length === undefined ? undefined : checkInt(opts.length, 'options.length');
    let fd: number;
    let own = false;
    if (typeof file === 'number') {
      fd = checkInt(file, 'file');
    } else {
      fd = fs.openSync(file, 'r'); // ENOENT, EACCES… as node:fs reports them
      own = true;
    }
    try {
      const st = fs.fstatSync(fd); // EBADF for a closed descriptor
      if (st.isDirectory()) {
        const err = systemError(21, 'sendfile') as Error & { path?: string };
        err.message = `EISDIR: illegal operation on a directory, sendfile${typeof file === 'string' ? ` '${file}'` : ''}`;
        if (typeof file === 'string') err.path = file;
        throw err;
      }
      if (!st.isFile()) {
        throw new InvalidArgumentError(
          'ERR_INVALID_ARG_VALUE',
          'The "file" argument must name a regular file.',
        );
      }
      if (offset > st.size) {
        throw new InvalidArgumentError(
          'ERR_OUT_OF_RANGE',
          `The value of "options.offset" is out of range. It must be <= ${st.size} (the file's size). Received ${offset}`,
        );
      }
      const len = length ?? st.size - offset;
      if (offset + len > st.size) {
        throw new InvalidArgumentError(
          'ERR_OUT_OF_RANGE',
          `The value of "options.length" is out of range. It must be <= ${st.size - offset} (the file's size minus the offset). Received ${len}`,
        );
      }
      this.host.beforeFile(len);
      const e = this.engine;
      e.submit(
        Sub.SendFile,
        this.id,
        fd,
        offset % 2 ** 32,
        Math.floor(offset / 2 ** 32),
        len % 2 ** 32,
        Math.floor(len / 2 ** 32),
      );
      // Native takes its duplicate of `fd` now, so ours can be closed right after.
      e.submitQueued();
      return new Promise<SendFileResult>((resolve, reject) => {
        this.queue.push({ expected: len, resolve, reject });
      });
    } finally {
      if (own) fs.closeSync(fd);
    }
  }

  /** A FILE_SENT record: the oldest file is done. */
  onFileSent(bytes: number, errno: number): void {
    const p = this.queue.shift();
    if (p === undefined) return;
    if (bytes < p.expected) this.host.fileShort(p.expected - bytes);
    if (errno !== 0) p.reject(systemError(errno, 'sendfile'));
    else p.resolve({ bytes, copied: this.host.encrypted });
  }

  /**
   * The socket was destroyed or closed: every file not reported yet fails — with the socket's
   * own system error when it failed (`ECONNRESET`, `EPIPE`, as node:net's write callbacks get
   * it), else `ERR_ZEROSOCK_SOCKET_CLOSED` (with `cause` when destroyed with an error).
   */
  abort(cause?: Error): void {
    const system = cause !== undefined && 'syscall' in cause && 'errno' in cause;
    for (const p of this.queue.splice(0)) {
      p.reject(
        system
          ? cause
          : new ZerosockError(
              'ERR_ZEROSOCK_SOCKET_CLOSED',
              'the socket closed before sendFile() finished',
              { cause },
            ),
      );
    }
  }
}
