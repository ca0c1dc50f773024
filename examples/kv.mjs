// A line-protocol server on raw zerosock sockets: PING and a tiny in-memory key-value store.
// No streams: bytes arrive in 'data' callbacks as borrowed views, replies go out with send()
// (small replies are corked and leave together, one system call per tick).
//
//   node examples/kv.mjs [--port 6380]
//   printf 'PING\nSET a 1\nGET a\nDEL a\nGET a\nQUIT\n' | nc 127.0.0.1 6380
//
// Commands (one per line, \n or \r\n):
//   PING              → PONG
//   SET <key> <value> → OK            (value: the rest of the line)
//   GET <key>         → VALUE <value> | NIL
//   DEL <key>         → 1 | 0
//   KEYS              → <count>
//   QUIT              → BYE, then the server closes the connection
import { createServer } from 'zerosock';

const i = process.argv.indexOf('--port');
const port = i > 0 ? Number(process.argv[i + 1]) : 6380;
const store = new Map();
const NL = 10;
const MAX_LINE = 64 * 1024;

function execute(line, sock) {
  const sp = line.indexOf(' ');
  const cmd = (sp < 0 ? line : line.slice(0, sp)).toUpperCase();
  const rest = sp < 0 ? '' : line.slice(sp + 1);
  switch (cmd) {
    case 'PING':
      return sock.send('PONG\n');
    case 'SET': {
      const k = rest.indexOf(' ');
      if (k <= 0) return sock.send('ERR usage: SET <key> <value>\n');
      store.set(rest.slice(0, k), rest.slice(k + 1));
      return sock.send('OK\n');
    }
    case 'GET':
      return sock.send(store.has(rest) ? `VALUE ${store.get(rest)}\n` : 'NIL\n');
    case 'DEL':
      return sock.send(store.delete(rest) ? '1\n' : '0\n');
    case 'KEYS':
      return sock.send(`${store.size}\n`);
    case 'QUIT':
      sock.end('BYE\n');
      return true;
    default:
      return sock.send(`ERR unknown command '${cmd}'\n`);
  }
}

const server = createServer((sock) => {
  // Bytes of an unfinished line. The view is only valid during the callback, so a partial
  // line is copied out; complete lines are decoded straight from pool memory.
  let carry = null;
  sock.on('data', (view) => {
    let start = 0;
    for (let nl = view.indexOf(NL); nl >= 0 && !sock.writableEnded; nl = view.indexOf(NL, start)) {
      let bytes = view.subarray(start, nl);
      if (carry !== null) {
        bytes = Buffer.concat([carry, bytes]);
        carry = null;
      }
      start = nl + 1;
      let line = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (line.length > 0) execute(line, sock);
    }
    if (start < view.byteLength && !sock.writableEnded) {
      const tail = Buffer.from(view.subarray(start)); // a copy
      carry = carry === null ? tail : Buffer.concat([carry, tail]);
      if (carry.length > MAX_LINE) sock.end('ERR line too long\n');
    }
  });
  sock.on('end', () => sock.end());
  sock.on('error', () => sock.destroy());
});

await server.listen({ port, host: '127.0.0.1' });
console.log(`kv: listening on 127.0.0.1:${server.address().port}`);
const stop = () => {
  server.closeAllConnections();
  server.close().then(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
