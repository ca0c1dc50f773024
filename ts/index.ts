/**
 * zerosock: socket primitives for Node.js servers, faster than node:net.
 * See README.md for the API and DESIGN.md for how it works.
 */
export { probe } from './probe';
export type { Backend, ProbeReport } from './probe';
export { ZerosockError, InvalidArgumentError } from './errors';
export type { ZerosockErrorCode } from './errors';
export { nativePath } from './native';
export { createServer, Server } from './server';
export type { ServerOptions, ListenOptions } from './server';
export { connect } from './connect';
export type { ConnectOptions } from './connect';
export { Socket } from './socket';
export type { SocketOptions, SocketStats, CorkOptions } from './socket';
export { DEFAULT_ZEROCOPY_THRESHOLD } from './zerocopy';
export type { ZeroCopyResult, ZeroCopySendOptions, ZeroCopyStats } from './zerocopy';
export type { SystemError } from './system-error';
export { SpscRing } from './spsc-ring';
export {
  BufferPool,
  type BufferPoolOptions,
  type BufferPoolStats,
  type BufferToken,
} from './buffer-pool';
export { stats } from './engine';
export type { EngineStats } from './engine';
export type { RingMemory, RingVisitor, RingErrorCode } from './spsc-ring';
export { SocketDuplex } from './duplex';
export type { DuplexOptions } from './duplex';
export { createHttpServer, HttpServer, http } from './http';
export type { HttpServerOptions, HttpCloseOptions, RequestListener } from './http';
export { startWorkers, serveInWorker, workerIndex, WorkerStartError } from './cluster';
export type {
  StartWorkersOptions,
  WorkerGroup,
  WorkerInfo,
  WorkerCloseReport,
  GroupCloseOptions,
  Closable,
  ServeInWorkerOptions,
} from './cluster';
