/**
 * zerosock: socket primitives for Node.js servers, faster than node:net.
 * See README.md for the API and DESIGN.md for how it works.
 *
 * This file is the public entry. The layers below it, lowest first (each imports only from
 * itself and the layers before it, and runtime imports form no cycle: scripts/check-layers.mjs,
 * run by `npm run lint` and CI):
 * - core/: the native addon (loader, generated types), the engine (JS side of the event and
 *   submission records, flush scheduling), errors, argument validation, the kernel probe.
 * - mem/: memory shared with native code or other threads: `BufferPool`, `SpscRing`, and the
 *   registry of memory lent to the kernel by zerocopy sends.
 * - net/: `Socket` (composed of the parts in net/socket/: sender, receiver, lifecycle,
 *   zerocopy, addresses, counters, options, cork policy), `Server`, `connect()`, the
 *   `stream.Duplex` view of a socket, and the diagnostics_channel channels they publish on.
 * - adapters/: what is built on net for other Node APIs: node:http servers (and the frameworks
 *   on them), worker_threads groups.
 */
export { probe } from './core/probe';
export type { Backend, ProbeReport } from './core/probe';
export { ZerosockError, InvalidArgumentError } from './core/errors';
export type { ZerosockErrorCode } from './core/errors';
export { nativePath } from './core/native';
export { createServer, Server } from './net/server';
export type { ServerOptions, ListenOptions } from './net/server';
export { connect } from './net/connect';
export type { ConnectOptions } from './net/connect';
export { Socket } from './net/socket';
export { DIAGNOSTICS_CHANNELS } from './net/diagnostics';
export type {
  ClientSocketMessage,
  ServerSocketMessage,
  ListenContext,
  ConnectContext,
} from './net/diagnostics';
export type { SocketOptions, CorkOptions } from './net/socket/options';
export type { SocketStats } from './net/socket/stats';
export type { SendFileOptions, SendFileResult } from './net/socket/send-file';
export { DEFAULT_ZEROCOPY_THRESHOLD } from './net/socket/zerocopy';
export type { ZeroCopyResult, ZeroCopySendOptions, ZeroCopyStats } from './net/socket/zerocopy';
export type { SystemError } from './core/system-error';
export { SpscRing } from './mem/spsc-ring';
export {
  BufferPool,
  type BufferPoolOptions,
  type BufferPoolStats,
  type BufferToken,
} from './mem/buffer-pool';
export { stats } from './core/engine';
export type { EngineStats } from './core/engine';
export type { RingMemory, RingVisitor, RingErrorCode } from './mem/spsc-ring';
export { SocketDuplex } from './net/duplex';
export type { DuplexOptions } from './net/duplex';
export { createHttpServer, HttpServer, http } from './adapters/http';
export type { HttpServerOptions, HttpCloseOptions, RequestListener } from './adapters/http';
export { ZerosockHttpServer } from './adapters/http-server';
export { fastifyServerFactory } from './adapters/fastify';
export type { FastifyFactoryOptions } from './adapters/fastify';
export { startWorkers, serveInWorker, workerIndex, WorkerStartError } from './adapters/cluster';
export type {
  StartWorkersOptions,
  WorkerGroup,
  WorkerInfo,
  WorkerCloseReport,
  GroupCloseOptions,
  Closable,
  PromiseClosable,
  ServeInWorkerOptions,
} from './adapters/cluster';
