// Runs one measurement: forks a server worker and a client worker (separate processes), drives
// them over IPC and returns both sides' results. Bounded: both are killed after `timeoutMs`.
// A measurement over a Unix socket (`params.uds`) gets a fresh path in a new directory under
// os.tmpdir(), removed with the directory once both workers are gone, whatever happened.
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const WORKER = fileURLToPath(new URL('./worker.mjs', import.meta.url));

/** A forked worker with `call(cmd, args)` -> Promise<result>. */
function spawnWorker(name) {
  const child = fork(WORKER, [], {
    execArgv: ['--expose-gc'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    serialization: 'advanced',
  });
  const pending = new Map();
  let nextId = 1;
  let exited = null;
  const failAll = (err) => {
    for (const { reject } of pending.values()) reject(err);
    pending.clear();
  };
  child.on('message', (m) => {
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    if (m.ok) p.resolve(m.result);
    else p.reject(new Error(`${name} worker: ${m.error}`));
  });
  child.on('exit', (code, signal) => {
    exited = { code, signal };
    failAll(new Error(`${name} worker exited (code ${code}, signal ${signal})`));
  });
  child.on('error', failAll);
  return {
    child,
    call(cmd, args = {}) {
      if (exited) return Promise.reject(new Error(`${name} worker already exited`));
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        child.send({ ...args, cmd, id });
      });
    },
    async stop() {
      if (exited) return;
      const gone = new Promise((r) => child.once('exit', r));
      try {
        await Promise.race([this.call('exit'), new Promise((r) => setTimeout(r, 1000))]);
      } catch {
        // already gone
      }
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await gone;
      clearTimeout(t);
    },
    kill() {
      if (!exited) child.kill('SIGKILL');
    },
  };
}

/**
 * Runs `{ workload, impl, variant, params }` with the server and the client in two processes.
 * Resolves with `{ server, client, wallMs, address }`; rejects on a worker error or after
 * `timeoutMs`. `address` is { port } for TCP, { path, isSocket } for a Unix socket.
 */
export async function runPair(spec, timeoutMs) {
  const dir = spec.params.uds ? mkdtempSync(join(tmpdir(), 'zerosock-bench-uds-')) : null;
  const path = dir === null ? undefined : join(dir, 'sock');
  try {
    return await runPairAt(path === undefined ? spec : { ...spec, path }, timeoutMs);
  } finally {
    if (dir !== null) rmSync(dir, { recursive: true, force: true });
  }
}

async function runPairAt(spec, timeoutMs) {
  const server = spawnWorker('server');
  const client = spawnWorker('client');
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => {
      server.kill();
      client.kill();
      reject(
        new Error(`${spec.workload}/${spec.impl}/${spec.variant} timed out after ${timeoutMs} ms`),
      );
    }, timeoutMs);
  });
  const t0 = performance.now();
  const body = async () => {
    const { port, path, isSocket } = await server.call('serve', spec);
    const address = path === null ? { port } : { path, isSocket };
    await client.call('connect', { ...spec, port, path: path ?? undefined });
    const serverDone = server.call('finish');
    serverDone.catch(() => {}); // reported below, once the client finished
    const clientResult = await client.call('run');
    const serverResult = await serverDone;
    const wallMs = performance.now() - t0;
    return { server: serverResult, client: clientResult, wallMs, address };
  };
  try {
    return await Promise.race([body(), timeout]);
  } finally {
    clearTimeout(timer);
    await Promise.all([server.stop(), client.stop()]);
  }
}
