// A TCP proxy: every connection to --port is relayed to --to HOST:PORT, both ways. On zerosock,
// the 'data' views are sent on as they are: their receive buffers go to the other socket's send
// and back to the pool once the kernel took them (forwarding: no copy by zerosock; see
// stats().forwardedBytes). `--net` runs the node:net twin (`a.pipe(b)`).
//
//   node examples/proxy.mjs --port 8081 --to 127.0.0.1:8080 [--net]
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { connect, createServer } from 'zerosock';

/** One direction: `from`'s bytes go to `to`, pausing `from` while `to` is full. */
function relay(from, to) {
  from.on('data', (view) => {
    if (!to.send(view)) {
      from.pause();
      to.once('drain', () => from.resume());
    }
  });
  from.on('end', () => to.end());
}

/**
 * Starts the proxy; resolves `{ port, close(), totals }`: `totals` counts, over connections
 * that closed, the bytes sent on (`sent`) and how many of them left without a copy
 * (`forwarded`; zerosock only).
 */
export async function startProxy({ port = 0, host = '127.0.0.1', to, lib = 'zerosock' }) {
  const totals = { sent: 0, forwarded: 0 };
  if (lib === 'net') {
    const server = net.createServer((a) => {
      const b = net.connect(to.port, to.host);
      a.pipe(b);
      b.pipe(a);
      const kill = () => (a.destroy(), b.destroy());
      a.on('error', kill);
      b.on('error', kill);
    });
    await new Promise((r) => server.listen(port, host, r));
    return {
      port: server.address().port,
      close: () => new Promise((r) => server.close(r)),
      totals,
    };
  }
  const server = createServer({ allowHalfOpen: true }, (a) => {
    a.pause(); // nothing is read before the far side is open
    connect({ port: to.port, host: to.host, allowHalfOpen: true }).then(
      (b) => {
        relay(a, b);
        relay(b, a);
        a.on('close', () => b.destroy());
        b.on('close', () => a.destroy());
        b.once('close', () => {
          for (const st of [a.stats(), b.stats()]) {
            totals.sent += st.bytesSent;
            totals.forwarded += st.forwardedBytes;
          }
        });
        a.resume();
      },
      () => a.destroy(),
    );
  });
  await server.listen({ port, host });
  return { port: server.address().port, close: () => server.close(), totals };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name, d) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : d;
  };
  const [toHost, toPort] = arg('to', '127.0.0.1:8080').split(':');
  const lib = process.argv.includes('--net') ? 'net' : 'zerosock';
  const p = await startProxy({
    port: Number(arg('port', '8081')),
    to: { host: toHost, port: Number(toPort) },
    lib,
  });
  console.log(
    `proxy (${lib === 'net' ? 'node:net pipe()' : 'zerosock'}) on 127.0.0.1:${p.port} -> ${toHost}:${toPort}`,
  );
  process.send?.({ port: p.port });
  // (run by benchmark/proxy.mjs: it asks for the totals over IPC)
  process.on('message', (m) => m === 'totals' && process.send({ totals: p.totals }));
}
