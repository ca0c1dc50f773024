// An HTTP client in a child process, for tests whose client must be in another process.
// `httpLoad({ port, requests, connections, path })` forks it: it sends `requests` GETs over at
// most `connections` keep-alive connections (node:http Agent) and resolves with
// `{ ok, statuses, bodies, sockets }`: 2xx answers, every status seen, the distinct bodies and
// how many TCP connections it opened. A peer that cannot finish in 20 s is killed (rejects).
import http from 'node:http';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export function httpLoad(spec, timeoutMs = 20_000) {
  const child = fork(fileURLToPath(import.meta.url), [JSON.stringify(spec)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`http peer did not finish in ${timeoutMs} ms`));
    }, timeoutMs);
    child.once('message', (m) => {
      clearTimeout(timer);
      resolve(m);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`http peer exited (${code}) without a result`));
    });
  });
}

async function run({ port, host = '127.0.0.1', requests, connections, path = '/' }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const sockets = new Set();
  const statuses = {};
  const bodies = new Set();
  let ok = 0;
  let next = 0;
  const one = () =>
    new Promise((resolve, reject) => {
      const req = http.get({ host, port, path, agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => {
          statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
          if (res.statusCode >= 200 && res.statusCode < 300) ok++;
          bodies.add(body);
          resolve();
        });
        res.on('error', reject);
      });
      req.on('socket', (s) => sockets.add(s));
      req.on('error', reject);
    });
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (next < requests) {
        next++;
        await one();
      }
    }),
  );
  agent.destroy();
  return { ok, statuses, bodies: [...bodies], sockets: sockets.size };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  run(JSON.parse(process.argv[2])).then(
    (r) => process.send(r, () => process.exit(0)),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
