// A peer process for the fault-injection tests (run by faults-helpers.mjs `peer()`), so that
// it can be killed with SIGKILL mid-transfer or hold its own descriptors. Reports as JSON
// lines on stdout. Modes:
//   client <net|zerosock> <port> <conns> [backend]   stream both ways until killed
//   server <net|zerosock> [backend]                   accept, stream both ways until killed
//   storm <backend> <port> <refusedPort> <n> <refusedEvery>
//                                                     n connects at once, report how they ended
import net from 'node:net';
import { readdirSync } from 'node:fs';
import { connect, createServer, stats } from 'zerosock';
import { envInt } from './faults-helpers.mjs';

const say = (msg) => process.stdout.write(`${JSON.stringify(msg)}\n`);
// Never outlive a test that forgot us.
setTimeout(() => process.exit(3), 120_000).unref();

const chunk = Buffer.alloc(64 * 1024, 0x42);
const counters = { sent: 0, received: 0, conns: 0 };

/** Reads everything and writes `chunk` forever on a node:net socket. */
function streamNet(sock) {
  sock.on('data', (d) => (counters.received += d.length));
  sock.on('error', () => {});
  const write = () => {
    while (sock.write(chunk)) {
      counters.sent += chunk.length;
      if (counters.sent % (1 << 22) === 0) return setImmediate(write);
    }
    counters.sent += chunk.length;
  };
  sock.on('drain', write);
  write();
}

/** The same on a zerosock socket. */
function streamZerosock(sock) {
  sock.on('data', (v) => (counters.received += v.byteLength));
  sock.on('error', () => {});
  const write = () => {
    while (!sock.destroyed && !sock.writableEnded && sock.send(chunk)) {
      counters.sent += chunk.length;
      if (counters.sent % (1 << 22) === 0) return setImmediate(write);
    }
    counters.sent += chunk.length;
  };
  sock.on('drain', write);
  write();
}

function progress() {
  setInterval(() => say({ type: 'progress', ...counters }), 50);
}

async function client(lib, port, conns, backend) {
  const opened = [];
  for (let i = 0; i < conns; i++) {
    if (lib === 'net') {
      const s = net.connect(port, '127.0.0.1');
      await new Promise((resolve, reject) => s.once('connect', resolve).once('error', reject));
      streamNet(s);
      opened.push(s);
    } else {
      const s = await connect({ port, host: '127.0.0.1', backend });
      streamZerosock(s);
      opened.push(s);
    }
    counters.conns++;
  }
  say({ type: 'connected', conns });
  progress();
}

async function server(lib, backend) {
  if (lib === 'net') {
    const s = net.createServer((sock) => {
      counters.conns++;
      streamNet(sock);
    });
    await new Promise((r) => s.listen(0, '127.0.0.1', r));
    say({ type: 'listening', port: s.address().port });
  } else {
    const s = createServer({ backend }, (sock) => {
      counters.conns++;
      streamZerosock(sock);
    });
    await s.listen({ port: 0, host: '127.0.0.1' });
    say({ type: 'listening', port: s.address().port });
  }
  progress();
}

/** n connects in one burst; every `refusedEvery`-th goes to a closed port. */
async function storm(backend, port, refusedPort, n, refusedEvery) {
  // One connection first, so the engine (and its descriptors) exists before the baseline.
  const warm = await connect({ port, host: '127.0.0.1', backend });
  warm.resume();
  const warmClosed = new Promise((r) => warm.once('close', r));
  warm.end();
  await warmClosed;
  const fdsBefore = readdirSync('/proc/self/fd').length;
  const poolBefore = stats()[backend].poolInUse;
  const started = Date.now();
  // Where each connect is, so that a stall says where it stuck.
  const stage = new Array(n).fill('connecting');
  const one = async (i) => {
    const refused = i % refusedEvery === 0;
    const sock = await connect({ port: refused ? refusedPort : port, host: '127.0.0.1', backend });
    stage[i] = 'connected';
    const closed = new Promise((r) => sock.once('close', r));
    let got = '';
    sock.on('data', (v) => {
      got += Buffer.from(v).toString();
      stage[i] = 'data';
    });
    sock.on('end', () => (stage[i] = 'end'));
    sock.send(`ping ${i}`);
    sock.end();
    await closed;
    stage[i] = 'closed';
    if (got !== `ping ${i}`) throw new Error(`echo of ${i} was ${JSON.stringify(got)}`);
    return refused;
  };
  const promises = Array.from({ length: n }, (_, i) => one(i));
  let settled = 0;
  const results = await Promise.race([
    Promise.allSettled(promises.map((p) => p.finally(() => settled++))),
    new Promise((r) => setTimeout(() => r(null), envInt('ZEROSOCK_STORM_WAIT_MS', 90_000))),
  ]);
  const out = { type: 'result', n, ms: Date.now() - started, settled, codes: {}, ok: 0 };
  if (results === null) {
    out.unsettled = n - settled;
    out.stages = {};
    for (const st of stage) out.stages[st] = (out.stages[st] ?? 0) + 1;
    out.stats = stats()[backend];
  } else {
    for (const r of results) {
      if (r.status === 'fulfilled') out.ok++;
      else {
        const key = r.reason.code ?? r.reason.message;
        out.codes[key] = (out.codes[key] ?? 0) + 1;
      }
    }
    // Let the engine finish the closes, then check what is left open.
    const until = Date.now() + 10_000;
    while (Date.now() < until) {
      const s = stats()[backend];
      if (readdirSync('/proc/self/fd').length === fdsBefore && s.openSockets === 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const s = stats()[backend];
    out.fdsBefore = fdsBefore;
    out.fdsAfter = readdirSync('/proc/self/fd').length;
    out.openSockets = s.openSockets;
    out.poolInUse = s.poolInUse;
    out.poolBefore = poolBefore;
  }
  say(out);
  process.exit(0);
}

const [mode, ...args] = process.argv.slice(2);
if (mode === 'client') await client(args[0], Number(args[1]), Number(args[2]), args[3]);
else if (mode === 'server') await server(args[0], args[1]);
else if (mode === 'storm')
  await storm(args[0], Number(args[1]), Number(args[2]), Number(args[3]), Number(args[4]));
else throw new Error(`unknown mode ${mode}`);
