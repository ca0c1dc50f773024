/**
 * The `node:diagnostics_channel` channels zerosock publishes, for APM and tracing tools. Each
 * has node:net's meaning under zerosock's own name (README "diagnostics_channel"):
 * - `zerosock.client.socket` `{ socket }`: `connect()` made its Socket (`net.client.socket`);
 * - `zerosock.server.socket` `{ socket, server }`: a server accepted a connection and emitted
 *   it (`net.server.socket`);
 * - tracing `zerosock.server.listen` `{ server, options }`: `listen()`
 *   (`tracing:net.server.listen`);
 * - tracing `zerosock.connect` `{ options }`: `connect()` (node:net has no tracing channel for
 *   it).
 * The tracing channels are TracingChannels traced with `tracePromise`: start, end (the call
 * returned its promise), asyncStart/asyncEnd (it settled; `result` is the Server or Socket) and
 * error (`error` is the rejection). Nothing is built or published while nobody subscribes: a
 * publish point then costs one `hasSubscribers` read (the accept path is hot).
 */
import { channel, tracingChannel, type TracingChannel } from 'node:diagnostics_channel';
import type { ConnectOptions } from './connect';
import type { ListenOptions, Server } from './server';
import type { Socket } from './socket';

/** The names zerosock publishes under (the tracing ones as given to `tracingChannel()`). */
export const DIAGNOSTICS_CHANNELS = {
  clientSocket: 'zerosock.client.socket',
  serverSocket: 'zerosock.server.socket',
  listen: 'zerosock.server.listen',
  connect: 'zerosock.connect',
} as const;

/** The message of `zerosock.client.socket`. */
export interface ClientSocketMessage {
  /** The new socket, still connecting. */
  socket: Socket;
}

/** The message of `zerosock.server.socket`. */
export interface ServerSocketMessage {
  /** The accepted socket, already emitted as `'connection'`. */
  socket: Socket;
  /** The server that accepted it. */
  server: Server;
}

/** The context object of every event of the `zerosock.server.listen` trace. */
export interface ListenContext {
  server: Server;
  /** The options `listen()` binds with (`listen(port, host)` gives `{ port, host }`). */
  options: ListenOptions;
  /** asyncStart / asyncEnd after success: the server (what `listen()` resolves with). */
  result?: Server;
  /** error, and asyncStart / asyncEnd after it: what `listen()` rejects with. */
  error?: unknown;
}

/** The context object of every event of the `zerosock.connect` trace. */
export interface ConnectContext {
  /** The options `connect()` was called with. */
  options: ConnectOptions;
  /** asyncStart / asyncEnd after success: the connected socket. */
  result?: Socket;
  /** error, and asyncStart / asyncEnd after it: what `connect()` rejects with. */
  error?: unknown;
}

const clientSocket = channel(DIAGNOSTICS_CHANNELS.clientSocket);
const serverSocket = channel(DIAGNOSTICS_CHANNELS.serverSocket);
const listenTrace = tracingChannel<unknown, ListenContext>(DIAGNOSTICS_CHANNELS.listen);
const connectTrace = tracingChannel<unknown, ConnectContext>(DIAGNOSTICS_CHANNELS.connect);

/** `connect()` made `socket`. */
export function publishClientSocket(socket: Socket): void {
  if (clientSocket.hasSubscribers) clientSocket.publish({ socket } satisfies ClientSocketMessage);
}

/** `server` accepted `socket` and emitted it. */
export function publishServerSocket(socket: Socket, server: Server): void {
  if (serverSocket.hasSubscribers)
    serverSocket.publish({ socket, server } satisfies ServerSocketMessage);
}

/** Runs `listen()`'s work, traced on `zerosock.server.listen` if anyone subscribes. */
export function traceListen<T>(
  server: Server,
  options: ListenOptions,
  listen: () => Promise<T>,
): Promise<T> {
  if (!traced(listenTrace)) return listen();
  return listenTrace.tracePromise(listen, { server, options });
}

/** Runs `connect()`'s work, traced on `zerosock.connect` if anyone subscribes. */
export function traceConnect<T>(options: ConnectOptions, connect: () => Promise<T>): Promise<T> {
  if (!traced(connectTrace)) return connect();
  return connectTrace.tracePromise(connect, { options });
}

/**
 * Whether any of the trace's five channels has a subscriber. `TracingChannel#hasSubscribers`
 * does the same but came with Node 20.13; zerosock runs on every Node 20.
 */
function traced<C extends object>(trace: TracingChannel<unknown, C>): boolean {
  return (
    trace.start.hasSubscribers ||
    trace.end.hasSubscribers ||
    trace.asyncStart.hasSubscribers ||
    trace.asyncEnd.hasSubscribers ||
    trace.error.hasSubscribers
  );
}
