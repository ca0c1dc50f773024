// An echo server in a child process (node:net or zerosock), for tests whose peer must be in
// another process. `startEcho(kind, backend, path?)` forks it (on 127.0.0.1, or on the Unix
// socket `path`) and returns `{ port, close(), closeAll() }`: close() stops listening (like server.close(): open connections go on),
// closeAll() destroys the open connections. close(n) first waits (up to 5 s) until n
// connections were accepted: a connection the kernel completed but the process had not
// accepted yet is reset when the listener closes, which a same-process peer never shows. Every connection echoes and ends after the FIN.
import net from 'node:net';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createServer } from 'zerosock';

export async function startEcho(kind, backend, path) {
  // (URI-encoded: an abstract name's leading NUL cannot travel in argv)
  const args = [kind, backend ?? 'auto', ...(path === undefined ? [] : [encodeURIComponent(path)])];
  const child = fork(fileURLToPath(import.meta.url), args, {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const answers = [];
  child.on('exit', (code, signal) => {
    if (code !== 0 && signal !== 'SIGTERM') console.error(`echo peer exited: ${code ?? signal}`);
  });
  const port = await new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`echo child exited (${code})`)));
    child.on('message', (m) => (m.listening ? resolve(m.port) : answers.shift()?.()));
  });
  const ask = (q, n = 0) =>
    new Promise((resolve) => {
      answers.push(resolve);
      child.send({ q, n });
    });
  return {
    port,
    close: (accepted) => ask('close', accepted),
    closeAll: () => ask('closeAll'),
    kill: () => {
      child.removeAllListeners('exit');
      child.kill();
    },
  };
}

async function serve(kind, backend, path) {
  const open = new Set();
  let accepted = 0;
  let server;
  /** Echoes on `s`; `write` is the library's write call. */
  const echo = (s, write) => {
    open.add(s);
    accepted++;
    s.on('data', (d) => write.call(s, d));
    s.on('end', () => s.end());
    s.on('error', () => {});
    s.on('close', () => open.delete(s));
  };
  if (kind === 'net') {
    server = net.createServer((s) => echo(s, s.write));
    await new Promise((r) => server.listen(path ?? { port: 0, host: '127.0.0.1' }, r));
  } else {
    server = createServer({ backend }, (s) => echo(s, s.send));
    await server.listen(path ?? { port: 0, host: '127.0.0.1' });
  }
  process.on('message', async ({ q, n }) => {
    if (q === 'close') {
      const end = Date.now() + 5000;
      while (accepted < n && Date.now() < end) await new Promise((r) => setTimeout(r, 1));
      server.close();
    } else for (const s of open) s.destroy();
    process.send({ done: q });
  });
  process.on('disconnect', () => process.exit(0));
  process.send({ listening: true, port: path === undefined ? server.address().port : undefined });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  setTimeout(() => process.exit(3), 600_000).unref();
  const [kind, backend, path] = process.argv.slice(2);
  await serve(
    kind,
    backend === 'auto' ? undefined : backend,
    path === undefined ? undefined : decodeURIComponent(path),
  );
}
