/**
 * Multi-core servers: N worker_threads each run the same module, each with its own zerosock
 * engine (engines are per thread), each listening on the same port with `reusePort: true`, so
 * the kernel spreads connections over them (SO_REUSEPORT hashes each connection to one
 * listener).
 *
 * ```js
 * // main.mjs
 * import { startWorkers } from 'zerosock';
 * const group = await startWorkers(new URL('./worker.mjs', import.meta.url), {
 *   workers: 4,
 *   workerData: { port: 8080 },
 * });
 * process.once('SIGINT', () => group.close());
 *
 * // worker.mjs
 * import { workerData } from 'node:worker_threads';
 * import { createServer, serveInWorker } from 'zerosock';
 * const server = createServer((sock) => sock.on('data', (v) => sock.send(v)));
 * await server.listen({ port: workerData.port, reusePort: true });
 * serveInWorker(server); // ready; closed gracefully by group.close()
 * ```
 */
import { Server as NetServer } from 'node:net';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, type ResourceLimits } from 'node:worker_threads';
import { InvalidArgumentError } from '../core/errors';
import { validateOptions } from '../core/validate';
import type { Address } from '../net/socket/addresses';

/** Environment variable telling a worker its index (0-based) among {@link startWorkers}' workers. */
const INDEX_ENV = 'ZEROSOCK_WORKER_INDEX';
/** Tag of the control messages between the group and its workers. */
const TAG = '__zerosock';

/** Options of {@link startWorkers}. */
export interface StartWorkersOptions {
  /** How many workers (default `os.availableParallelism()`). */
  workers?: number;
  /** Given to every worker as `require('node:worker_threads').workerData`. */
  workerData?: unknown;
  /** Environment of the workers (default: the parent's); `ZEROSOCK_WORKER_INDEX` is added. */
  env?: Record<string, string | undefined>;
  /** Worker `execArgv`. */
  execArgv?: string[];
  resourceLimits?: ResourceLimits;
  /** Rejects if a worker has not called {@link serveInWorker} by then (default 30 000 ms). */
  readyTimeoutMs?: number;
}

/** What each worker said when it became ready. */
export interface WorkerInfo {
  /** 0-based index. */
  index: number;
  worker: Worker;
  /** Address of the first server given to {@link serveInWorker} (null if unknown). */
  address: Address | null;
}

/** Options of {@link WorkerGroup.close}. */
export interface GroupCloseOptions {
  /**
   * Each worker waits this long for its connections to finish after it stopped accepting,
   * then destroys the rest (default 10 000 ms).
   */
  timeoutMs?: number;
}

/** How one worker ended in {@link WorkerGroup.close}. */
export interface WorkerCloseReport {
  index: number;
  /** True if its connections all finished within the timeout (none destroyed). */
  graceful: boolean;
  /** The value of `report()` given to {@link serveInWorker}, if any. */
  report: unknown;
  /** The worker's exit code (1 when it had to be terminated). */
  exitCode: number;
  /** True if the worker did not exit by itself after closing and was terminated. */
  terminated: boolean;
}

/** Workers started by {@link startWorkers}. */
export interface WorkerGroup {
  readonly workers: readonly WorkerInfo[];
  /** The port the first worker listens on. */
  readonly port: number | undefined;
  /** Sends `message` to every worker's `parentPort`. */
  broadcast(message: unknown): void;
  /**
   * Graceful shutdown: every worker stops accepting, lets its connections finish (up to
   * `timeoutMs`, then destroys them) and exits. Resolves once all have exited.
   */
  close(options?: GroupCloseOptions): Promise<WorkerCloseReport[]>;
}

/**
 * Something a worker serves: a zerosock `Server` or `HttpServer` (or anything alike), or a
 * node-style server whose `close(cb)` takes a callback: a `ZerosockHttpServer` (what fastify's
 * `app.server` or hapi's `server.listener` is on zerosock).
 */
export type Closable = PromiseClosable | NetServer;

/** A server whose `close()` returns a promise. */
export interface PromiseClosable {
  close(): Promise<void>;
  closeAllConnections?(): void;
  address?(): Address | string | null;
}

/** Closes `s`, resolving once it has closed (node-style servers: on their close callback). */
function closeServer(s: Closable): Promise<void> {
  if (s instanceof NetServer) return new Promise((resolve) => s.close(() => resolve()));
  return s.close();
}

/** Options of {@link serveInWorker}. */
export interface ServeInWorkerOptions {
  /** Called when the group closes this worker; its (awaited) value ends up in the close report. */
  report?: () => unknown;
}

type ControlMessage =
  | { [TAG]: 'ready'; address: WorkerInfo['address'] }
  | { [TAG]: 'close'; timeoutMs: number }
  | { [TAG]: 'closed'; graceful: boolean; report: unknown; error?: string };

function isControl(m: unknown): m is ControlMessage {
  return typeof m === 'object' && m !== null && TAG in m;
}

/**
 * Starts `workers` worker_threads running `module` (a path, a `file:` or `data:` URL). Each worker must
 * listen (with `reusePort: true` to share a port) and call {@link serveInWorker}; resolves
 * once all have. Rejects — after terminating the others — if a worker fails or exits first,
 * or is not ready in `readyTimeoutMs`.
 */
export async function startWorkers(
  module: string | URL,
  options: StartWorkersOptions = {},
): Promise<WorkerGroup> {
  validateOptions(options, [
    'workers',
    'workerData',
    'env',
    'execArgv',
    'resourceLimits',
    'readyTimeoutMs',
  ]);
  const count = options.workers ?? availableParallelism();
  if (!Number.isInteger(count) || count < 1 || count > 1024) {
    throw new InvalidArgumentError(
      'ERR_OUT_OF_RANGE',
      `The "workers" option must be an integer >= 1 and <= 1024. Received ${count}`,
    );
  }
  const file =
    module instanceof URL && module.protocol === 'file:' ? fileURLToPath(module) : module;
  if (!(file instanceof URL) && (typeof file !== 'string' || file.length === 0)) {
    throw new InvalidArgumentError(
      'ERR_INVALID_ARG_TYPE',
      'The "module" argument must be a path, a file: URL or a data: URL.',
    );
  }
  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
  const baseEnv = options.env ?? process.env;
  const workers: Worker[] = [];
  const exits: Promise<number>[] = [];
  const ready: Promise<WorkerInfo>[] = [];
  for (let index = 0; index < count; index++) {
    const worker = new Worker(file, {
      workerData: options.workerData,
      env: { ...baseEnv, [INDEX_ENV]: String(index) },
      execArgv: options.execArgv,
      resourceLimits: options.resourceLimits,
    });
    workers.push(worker);
    exits.push(new Promise((resolve) => worker.once('exit', resolve)));
    ready.push(
      new Promise<WorkerInfo>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(workerFailure(index, `was not ready within ${readyTimeoutMs} ms`)),
          readyTimeoutMs,
        );
        const done = () => {
          clearTimeout(timer);
          worker.off('message', onMessage);
          worker.off('error', onError);
          worker.off('exit', onExit);
        };
        const onMessage = (m: unknown) => {
          if (!isControl(m) || m[TAG] !== 'ready') return;
          done();
          resolve({ index, worker, address: m.address });
        };
        const onError = (err: Error) => {
          done();
          reject(workerFailure(index, `failed: ${err.message}`, err));
        };
        const onExit = (code: number) => {
          done();
          reject(workerFailure(index, `exited with code ${code} before it was ready`));
        };
        worker.on('message', onMessage);
        worker.once('error', onError);
        worker.once('exit', onExit);
      }),
    );
  }
  let infos: WorkerInfo[];
  try {
    infos = await Promise.all(ready);
  } catch (err) {
    // Don't leave workers behind; swallow their later errors.
    for (const w of workers) {
      w.on('error', () => {});
      void w.terminate();
    }
    await Promise.all(exits);
    throw err;
  }
  // A worker failing later must not crash the parent: it is reported by close().
  const failures = new Map<number, Error>();
  infos.forEach((info) => info.worker.on('error', (err) => failures.set(info.index, err)));
  let closing: Promise<WorkerCloseReport[]> | null = null;
  return {
    workers: infos,
    port: infos[0]?.address?.port,
    broadcast(message: unknown) {
      for (const info of infos) info.worker.postMessage(message);
    },
    close(closeOptions: GroupCloseOptions = {}) {
      validateOptions(closeOptions, ['timeoutMs']);
      closing ??= Promise.all(
        infos.map((info, i) => closeWorker(info, exits[i], closeOptions.timeoutMs ?? 10_000)),
      );
      return closing;
    },
  };
}

async function closeWorker(
  info: WorkerInfo,
  exited: Promise<number>,
  timeoutMs: number,
): Promise<WorkerCloseReport> {
  const { worker, index } = info;
  let graceful = false;
  let report: unknown;
  let terminated = false;
  const reply = new Promise<ControlMessage | null>((resolve) => {
    const onMessage = (m: unknown) => {
      if (isControl(m) && m[TAG] === 'closed') {
        worker.off('message', onMessage);
        resolve(m);
      }
    };
    worker.on('message', onMessage);
    void exited.then(() => resolve(null));
  });
  try {
    worker.postMessage({ [TAG]: 'close', timeoutMs });
  } catch {
    // Already gone.
  }
  // The worker itself forces its connections closed at timeoutMs; allow a margin on top.
  const answer = await raceTimeout(reply, timeoutMs + 5_000);
  if (answer !== undefined && answer !== null && answer[TAG] === 'closed') {
    graceful = answer.graceful;
    report = answer.report;
  }
  // Once closed, the worker's event loop is empty and it exits by itself; terminate stragglers.
  let code = await raceTimeout(exited, 5_000);
  if (code === undefined) {
    terminated = true;
    await worker.terminate();
    code = await exited;
  }
  return { index, graceful, report, exitCode: code, terminated };
}

function raceTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), ms);
    }),
  ]);
}

/** A worker of {@link startWorkers} failed, exited or timed out before it was ready. */
export class WorkerStartError extends Error {
  /** Always `'ERR_ZEROSOCK_WORKER'`. */
  readonly code = 'ERR_ZEROSOCK_WORKER';
  /** Index of the worker. */
  readonly index: number;

  constructor(index: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WorkerStartError';
    this.index = index;
  }
}

function workerFailure(index: number, what: string, cause?: Error): WorkerStartError {
  return new WorkerStartError(index, `worker ${index} ${what}`, { cause });
}

/**
 * This thread's index among the workers {@link startWorkers} started (0-based), or -1 when it
 * is not such a worker.
 */
export function workerIndex(): number {
  if (isMainThread) return -1;
  const v = process.env[INDEX_ENV];
  return v === undefined ? -1 : Number(v);
}

/**
 * Called in a worker once its server(s) listen: tells {@link startWorkers} it is ready, and
 * closes the servers gracefully when the group closes (stop accepting, wait for connections
 * up to the group's `timeoutMs`, then `closeAllConnections()`). Outside a worker it does
 * nothing.
 */
export function serveInWorker(
  servers: Closable | readonly Closable[],
  options: ServeInWorkerOptions = {},
): void {
  validateOptions(options, ['report']);
  const port = parentPort;
  if (isMainThread || port === null) return;
  const list: readonly Closable[] = Array.isArray(servers) ? servers : [servers as Closable];
  let address: WorkerInfo['address'] = null;
  try {
    const a = list[0]?.address?.() ?? null;
    address = typeof a === 'string' ? null : a;
  } catch {
    address = null;
  }
  const onMessage = (m: unknown) => {
    if (!isControl(m) || m[TAG] !== 'close') return;
    port.off('message', onMessage);
    void closeAll(list, m.timeoutMs, options).then((msg) => {
      port.postMessage(msg);
      // Let the worker exit once its servers are closed, whatever else the module listens to.
      port.unref();
    });
  };
  port.on('message', onMessage);
  port.postMessage({ [TAG]: 'ready', address } satisfies ControlMessage);
}

async function closeAll(
  list: readonly Closable[],
  timeoutMs: number,
  options: ServeInWorkerOptions,
): Promise<ControlMessage> {
  let graceful = true;
  let error: string | undefined;
  try {
    const closed = Promise.all(list.map(closeServer));
    const inTime = await raceTimeout(
      closed.then(() => true),
      timeoutMs,
    );
    if (inTime === undefined) {
      graceful = false;
      for (const s of list) (s as PromiseClosable).closeAllConnections?.();
      await closed;
    }
  } catch (err) {
    graceful = false;
    error = (err as Error).message;
  }
  let report: unknown;
  try {
    report = await options.report?.();
  } catch (err) {
    error ??= (err as Error).message;
  }
  return { [TAG]: 'closed', graceful, report, error };
}
