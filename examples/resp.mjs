// A RESP (Redis protocol) server in JavaScript: PING, ECHO, SET, GET, DEL, INCR, EXISTS over a
// Map, on zerosock's raw sockets or on node:net — the same parser and commands for both, so
// `redis-benchmark` and `redis-cli` can compare them (benchmark/resp.mjs does).
//
//   node examples/resp.mjs [--port 6390] [--net]
//   redis-cli -p 6390 set a 1 && redis-cli -p 6390 get a
//
// The parser takes RESP arrays of bulk strings (what clients send) and inline commands, split
// across reads anywhere. zerosock's 'data' views are borrowed: a command is parsed while its
// view is valid, and only an incomplete tail is copied until the next read.
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { createServer } from 'zerosock';

const CR = 13;
const LF = 10;
const OK = Buffer.from('+OK\r\n');
const PONG = Buffer.from('+PONG\r\n');
const NIL = Buffer.from('$-1\r\n');
const EMPTY_ARRAY = Buffer.from('*0\r\n');
const ZERO = Buffer.from(':0\r\n');
const ONE = Buffer.from(':1\r\n');
/** The longest command accepted (the tail of a read waits in a copy up to this size). */
const MAX_COMMAND = 64 * 1024 * 1024;

/** Parses RESP commands out of the bytes of one connection, across reads. */
export class RespParser {
  constructor(onCommand) {
    /** `onCommand(args: Buffer[] as subarrays of the current read)` */
    this.onCommand = onCommand;
    this.tail = null;
  }

  /** Feeds one read; returns an error message for a protocol error (the caller closes). */
  feed(bytes) {
    // A Buffer over the same memory (no copy): zerosock's views are plain Uint8Arrays.
    let buf = Buffer.isBuffer(bytes)
      ? bytes
      : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (this.tail !== null) {
      buf = Buffer.concat([this.tail, buf]);
      this.tail = null;
    }
    let pos = 0;
    while (pos < buf.length) {
      const used = buf[pos] === 0x2a /* '*' */ ? this.array(buf, pos) : this.inline(buf, pos);
      if (used === -1) break; // incomplete: wait for more
      if (typeof used === 'string') return used;
      pos = used;
    }
    if (pos < buf.length) {
      if (buf.length - pos > MAX_COMMAND) return 'ERR command too long';
      // Copy: a zerosock view is only valid during its callback.
      this.tail = Buffer.from(buf.subarray(pos));
    }
    return null;
  }

  /** `*N\r\n($len\r\n<bytes>\r\n){N}`; returns the end, -1 if incomplete, or an error. */
  array(buf, start) {
    let [n, pos] = readInt(buf, start + 1);
    if (pos === -1) return -1;
    if (n < 0 || n > 1024 * 1024) return 'ERR Protocol error: invalid multibulk length';
    const args = new Array(n);
    for (let i = 0; i < n; i++) {
      if (pos >= buf.length) return -1;
      if (buf[pos] !== 0x24 /* '$' */) return "ERR Protocol error: expected '$'";
      let len;
      [len, pos] = readInt(buf, pos + 1);
      if (pos === -1) return -1;
      if (len < 0 || len > 512 * 1024 * 1024) return 'ERR Protocol error: invalid bulk length';
      if (pos + len + 2 > buf.length) return -1;
      args[i] = buf.subarray(pos, pos + len);
      pos += len + 2;
    }
    this.onCommand(args);
    return pos;
  }

  /** An inline command: words separated by spaces, ended by \n or \r\n. */
  inline(buf, start) {
    const end = buf.indexOf(LF, start);
    if (end === -1) return -1;
    const stop = end > start && buf[end - 1] === CR ? end - 1 : end;
    const words = buf.toString('latin1', start, stop).split(' ').filter(Boolean);
    if (words.length > 0) this.onCommand(words.map((w) => Buffer.from(w, 'latin1')));
    return end + 1;
  }
}

/** Reads a decimal integer ending in \r\n at `pos`: [value, next] or [0, -1] if incomplete. */
function readInt(buf, pos) {
  let n = 0;
  let neg = false;
  if (buf[pos] === 0x2d /* '-' */) {
    neg = true;
    pos++;
  }
  for (; pos < buf.length; pos++) {
    const c = buf[pos];
    if (c === CR) {
      if (pos + 1 >= buf.length) return [0, -1];
      return [neg ? -n : n, pos + 2];
    }
    n = n * 10 + (c - 48);
  }
  return [0, -1];
}

const bulk = (value) =>
  Buffer.concat([Buffer.from(`$${value.length}\r\n`), value, Buffer.from('\r\n')]);
const error = (msg) => Buffer.from(`-${msg}\r\n`);

/** Runs one command against `store`; returns the reply bytes. */
export function execute(store, args) {
  const cmd = args[0].toString('latin1').toUpperCase();
  switch (cmd) {
    case 'PING':
      return args.length > 1 ? bulk(args[1]) : PONG;
    case 'ECHO':
      return args.length === 2 ? bulk(args[1]) : error("ERR wrong number of arguments for 'echo'");
    case 'SET':
      if (args.length < 3) return error("ERR wrong number of arguments for 'set'");
      store.set(args[1].toString('latin1'), Buffer.from(args[2]));
      return OK;
    case 'GET': {
      if (args.length !== 2) return error("ERR wrong number of arguments for 'get'");
      const v = store.get(args[1].toString('latin1'));
      return v === undefined ? NIL : bulk(v);
    }
    case 'DEL': {
      let n = 0;
      for (let i = 1; i < args.length; i++) n += store.delete(args[i].toString('latin1')) ? 1 : 0;
      return n === 0 ? ZERO : n === 1 ? ONE : Buffer.from(`:${n}\r\n`);
    }
    case 'EXISTS': {
      let n = 0;
      for (let i = 1; i < args.length; i++) n += store.has(args[i].toString('latin1')) ? 1 : 0;
      return Buffer.from(`:${n}\r\n`);
    }
    case 'INCR': {
      if (args.length !== 2) return error("ERR wrong number of arguments for 'incr'");
      const key = args[1].toString('latin1');
      const old = store.get(key);
      const n = old === undefined ? 0 : Number(old.toString('latin1'));
      if (!Number.isSafeInteger(n)) return error('ERR value is not an integer or out of range');
      store.set(key, Buffer.from(String(n + 1)));
      return Buffer.from(`:${n + 1}\r\n`);
    }
    case 'CONFIG': // redis-benchmark asks for `save` and `appendonly`: nothing is configured
      return EMPTY_ARRAY;
    default:
      return error(`ERR unknown command '${cmd.toLowerCase()}'`);
  }
}

/** Starts the server on zerosock (`lib: 'zerosock'`) or node:net; resolves with its port. */
export async function startResp({ lib = 'zerosock', port = 0, host = '127.0.0.1' } = {}) {
  const store = new Map();
  const serve = (reply, close) => {
    const parser = new RespParser((args) => reply(execute(store, args)));
    return (bytes) => {
      const err = parser.feed(bytes);
      if (err !== null) {
        reply(error(err));
        close();
      }
    };
  };
  if (lib === 'net') {
    const server = net.createServer({ noDelay: true }, (s) => {
      // One write per tick for all replies, as zerosock's auto-cork does without being asked.
      let corked = false;
      const reply = (b) => {
        if (!corked) {
          corked = true;
          s.cork();
          process.nextTick(() => {
            corked = false;
            s.uncork();
          });
        }
        s.write(b);
      };
      s.on(
        'data',
        serve(reply, () => s.end()),
      );
      s.on('error', () => {});
    });
    await new Promise((r) => server.listen(port, host, r));
    return { port: server.address().port, close: () => new Promise((r) => server.close(r)) };
  }
  const server = createServer((s) => {
    s.on(
      'data',
      serve(
        (b) => s.send(b),
        () => s.end(),
      ),
    );
    s.on('end', () => s.end());
    s.on('error', () => {});
  });
  await server.listen({ port, host });
  return { port: server.address().port, close: () => server.close() };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--port');
  const port = i > 0 ? Number(process.argv[i + 1]) : 6390;
  const lib = process.argv.includes('--net') ? 'net' : 'zerosock';
  const { port: bound } = await startResp({ lib, port });
  console.log(`RESP server (${lib === 'net' ? 'node:net' : 'zerosock'}) on 127.0.0.1:${bound}`);
  process.send?.({ port: bound });
}
