// The HTTP, duplex, multi-core and diagnostics_channel API from every kind of consumer:
// CommonJS require, ESM import (named and default), and TypeScript (types of everything
// exported, CJS and ESM resolution) — compiled with the project's tsc in strict mode.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esm from 'zerosock';
import esmDefault from 'zerosock';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const NAMES = [
  'createHttpServer',
  'HttpServer',
  'http',
  'SocketDuplex',
  'startWorkers',
  'serveInWorker',
  'workerIndex',
  'WorkerStartError',
  'DIAGNOSTICS_CHANNELS',
];

test('ESM named + default exports and CJS require give the same objects', (t) => {
  const cjs = require('zerosock');
  for (const name of NAMES) {
    t.truthy(esm[name], `ESM export ${name}`);
    t.is(esm[name], cjs[name], `same ${name} from ESM and CJS`);
    t.is(esmDefault[name], cjs[name], `default export has ${name}`);
  }
  t.is(esm.http.createServer, esm.createHttpServer);
  t.is(esm.workerIndex(), -1, 'not a worker here');
});

test('a CommonJS program serves HTTP over zerosock and exits', (t) => {
  const program = `
    const http = require('node:http');
    const { createHttpServer, http: zhttp } = require('zerosock');
    (async () => {
      const server = zhttp.createServer((req, res) => res.end('cjs ' + req.url));
      await server.listen({ port: 0, host: '127.0.0.1' });
      const body = await new Promise((resolve, reject) => {
        http.get({ host: '127.0.0.1', port: server.address().port, path: '/x', agent: false }, (res) => {
          let s = '';
          res.on('data', (d) => (s += d));
          res.on('end', () => resolve(s));
        }).on('error', reject);
      });
      await server.close();
      console.log(body, typeof createHttpServer);
    })();`;
  const out = execFileSync(process.execPath, ['-e', program], {
    cwd: root,
    encoding: 'utf8',
    timeout: 20_000,
  });
  t.is(out.trim(), 'cjs /x function');
});

test('TypeScript consumers (CommonJS and ESM resolution) type-check against the .d.ts', (t) => {
  const tmp = mkdtempSync(join(os.tmpdir(), 'zerosock-ts-'));
  t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
  mkdirSync(join(tmp, 'node_modules', '@types'), { recursive: true });
  symlinkSync(root, join(tmp, 'node_modules', 'zerosock'), 'dir');
  symlinkSync(
    join(root, 'node_modules', '@types', 'node'),
    join(tmp, 'node_modules', '@types', 'node'),
    'dir',
  );
  const source = (importLine) => `${importLine}
import * as dc from 'node:diagnostics_channel';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Duplex } from 'node:stream';

async function main(): Promise<void> {
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    res.end(req.url);
  };
  const options: HttpServerOptions = { backend: 'auto', http: { keepAliveTimeout: 1000 } };
  const server: HttpServer = createHttpServer(handler, options);
  const same: HttpServer = http.createServer(handler);
  await server.listen({ port: 0, host: '127.0.0.1', reusePort: true, signal: AbortSignal.timeout(1000) });
  // As node:net's: an address object, or a Unix socket's path string.
  const addr: { port: number } | string | null = server.address();
  const close: Promise<void> = server.close({ timeoutMs: 10 });
  void addr; void close; void same;

  const sock: Socket = await connect({ port: 1, signal: new AbortController().signal });
  const duplex: SocketDuplex = sock.toDuplex({ allowHalfOpen: true });
  const asStream: Duplex = duplex;
  duplex.setTimeout(100, () => duplex.destroy()).setNoDelay(true).setKeepAlive(true, 10);
  const ra: string | undefined = duplex.remoteAddress;
  const n: number = duplex.bytesRead + duplex.bytesWritten;
  const state: 'open' | 'readOnly' | 'writeOnly' | 'closed' = duplex.readyState;
  void asStream; void ra; void n; void state;

  const start: StartWorkersOptions = { workers: 2, workerData: { port: 1 }, readyTimeoutMs: 10 };
  const group: WorkerGroup = await startWorkers(new URL('file:///w.mjs'), start);
  const info: WorkerInfo = group.workers[0];
  const reports: WorkerCloseReport[] = await group.close({ timeoutMs: 10 });
  const i: number = workerIndex();
  const z = createServer();
  serveInWorker(z, { report: () => ({ i }) });
  serveInWorker([z, server]);
  const c: Closable = z;
  const e: WorkerStartError | undefined = undefined;
  void info; void reports; void c; void e;

  dc.subscribe(DIAGNOSTICS_CHANNELS.serverSocket, (message) => {
    const { socket, server: listener } = message as ServerSocketMessage;
    const accepted: Socket = socket;
    const from: Server = listener;
    void accepted; void from;
  });
  const client: ClientSocketMessage = { socket: sock };
  const name: 'zerosock.client.socket' = DIAGNOSTICS_CHANNELS.clientSocket;
  void client; void name;
  const done = (ctx: ListenContext): void => {
    const s: Server | undefined = ctx.result;
    const p: number | undefined = ctx.options.port;
    void s; void p; void ctx.server.address(); void ctx.error;
  };
  dc.tracingChannel<unknown, ListenContext>(DIAGNOSTICS_CHANNELS.listen).subscribe({
    start: done, end: done, asyncStart: done, asyncEnd: done, error: done,
  });
  const traced = (ctx: ConnectContext): void => {
    const s: Socket | undefined = ctx.result;
    const port: number | undefined = ctx.options.port;
    const path: string | undefined = ctx.options.path;
    void path;
    void s; void port;
  };
  dc.tracingChannel<unknown, ConnectContext>(DIAGNOSTICS_CHANNELS.connect).subscribe({
    start: traced, end: traced, asyncStart: traced, asyncEnd: traced, error: traced,
  });
}
void main;
`;
  const names =
    '{ connect, createHttpServer, createServer, http, serveInWorker, startWorkers, workerIndex, DIAGNOSTICS_CHANNELS, HttpServer, Server, Socket, SocketDuplex, WorkerStartError, type ClientSocketMessage, type Closable, type ConnectContext, type HttpServerOptions, type ListenContext, type ServerSocketMessage, type StartWorkersOptions, type WorkerCloseReport, type WorkerGroup, type WorkerInfo }';
  writeFileSync(join(tmp, 'cjs.ts'), source(`import ${names} from 'zerosock';`));
  writeFileSync(join(tmp, 'esm.mts'), source(`import ${names} from 'zerosock';`));
  writeFileSync(join(tmp, 'package.json'), JSON.stringify({ name: 'ts-consumer', private: true }));
  const tsc = require.resolve('typescript/bin/tsc');
  const common = [
    '--noEmit',
    '--strict',
    '--skipLibCheck',
    'false',
    '--target',
    'ES2022',
    '--types',
    'node',
  ];
  const runTsc = (args) => {
    try {
      execFileSync(process.execPath, [tsc, ...common, ...args], { cwd: tmp, encoding: 'utf8' });
      return '';
    } catch (err) {
      return `${err.stdout}${err.stderr}`;
    }
  };
  t.is(runTsc(['--module', 'commonjs', '--moduleResolution', 'node', 'cjs.ts']), '', 'CJS types');
  t.is(
    runTsc(['--module', 'nodenext', '--moduleResolution', 'nodenext', 'esm.mts']),
    '',
    'ESM types',
  );
});
