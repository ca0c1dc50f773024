// Runs under a low descriptor limit (emfile.spec.mjs starts it with `ulimit -n`). Commands
// come as JSON lines on stdin, results go out as JSON lines on stdout. Modes:
//   server <backend>        an echo server; reports accept errors and what it serves
//   client <backend> <port> connects to an echo server until connect() fails
import { createInterface } from 'node:readline';
import { readdirSync } from 'node:fs';
import { connect, createServer, stats } from 'zerosock';

const say = (msg) => process.stdout.write(`${JSON.stringify(msg)}\n`);
/** Open descriptors (null while none is free to list them). */
const fds = () => {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return null;
  }
};
setTimeout(() => process.exit(3), 120_000).unref();
const plain = (err) => ({ code: err.code, errno: err.errno, syscall: err.syscall, name: err.name });

async function server(backend) {
  const errors = [];
  let accepted = 0;
  const open = new Set();
  const srv = createServer({ backend }, (sock) => {
    accepted++;
    open.add(sock);
    sock.on('data', (v) => sock.send(v));
    sock.on('end', () => sock.end());
    sock.on('error', () => {});
    sock.on('close', () => open.delete(sock));
  });
  srv.on('error', (err) => {
    errors.push(plain(err));
    if (errors.length === 1) say({ type: 'accept-error', error: plain(err), accepted, fds: fds() });
  });
  await srv.listen({ port: 0, host: '127.0.0.1', backlog: 1024 });
  say({ type: 'listening', port: srv.address().port, fds: fds() });
  for await (const line of createInterface({ input: process.stdin })) {
    const cmd = JSON.parse(line);
    if (cmd.type === 'status') {
      say({
        type: 'status',
        accepted,
        open: open.size,
        errors: errors.length,
        codes: [...new Set(errors.map((e) => `${e.syscall} ${e.code}`))],
        fds: fds(),
        openSockets: stats()[backend].openSockets,
      });
    } else if (cmd.type === 'close') {
      srv.closeAllConnections();
      await srv.close();
      say({ type: 'closed', fds: fds(), openSockets: stats()[backend].openSockets });
      process.exit(0);
    }
  }
}

async function client(backend, port) {
  const socks = [];
  let failure = null;
  const started = fds();
  while (socks.length < 10_000) {
    try {
      const s = await connect({ port, host: '127.0.0.1', backend });
      s.on('error', () => {});
      socks.push(s);
    } catch (err) {
      failure = { ...plain(err), isZerosockError: err.constructor?.name === 'ZerosockError' };
      break;
    }
  }
  const connected = socks.length;
  // The connections made before the failure still work: echo over each.
  let echoed = 0;
  await Promise.all(
    socks.map(
      (s, i) =>
        new Promise((resolve) => {
          let got = '';
          s.on('data', (v) => {
            got += Buffer.from(v).toString();
            if (got === `echo ${i}`) {
              echoed++;
              resolve();
            }
          });
          s.send(`echo ${i}`);
          setTimeout(resolve, 10_000);
        }),
    ),
  );
  // A connect after freeing descriptors succeeds again.
  for (const s of socks.splice(0, 10)) s.destroy();
  await new Promise((r) => setTimeout(r, 200));
  let again = null;
  try {
    const s = await connect({ port, host: '127.0.0.1', backend });
    again = 'connected';
    s.destroy();
  } catch (err) {
    again = err.code;
  }
  for (const s of socks) s.destroy();
  say({ type: 'result', fdsAtStart: started, connected, echoed, failure, again });
  process.exit(0);
}

const [mode, backend, port] = process.argv.slice(2);
if (mode === 'server') await server(backend);
else await client(backend, Number(port));
