// Strands a submit on purpose, in its own process: a raw native sendCopy() of 64 MiB from a
// timer, bypassing the JS write path that schedules the flush, so the engine keeps the
// remainder queued and nobody owes it a flush. Nothing else happens in that turn, so only the
// check at the end of the turn, right before the loop sleeps, can find it. A later timer
// ends the socket through the normal path; the node:net sink (peers/sink.mjs, in this process
// or in a child: argv[3] 'same' | 'child') hashes what arrived. Prints one JSON line, unless
// ZEROSOCK_DEBUG=1 made the check throw (then the process dies of
// ERR_ZEROSOCK_STRANDED_SUBMIT).
//
//   node strand.mjs <backend> <same|child>
import { createHash } from 'node:crypto';
import { connect, stats } from 'zerosock';
import { startSink } from './sink.mjs';

const [backend, where] = process.argv.slice(2);
const data = Buffer.alloc(64 << 20, 7);
const sink = await startSink('net', undefined, where);
const c = await connect({ port: sink.port, host: '127.0.0.1', backend });
const timer = setTimeout(() => {
  console.error('strand: the sink got no FIN in 20 s');
  process.exit(3);
}, 20_000);
setTimeout(() => {
  c.engine.native.sendCopy(c.id, data);
  // A timer of its own: the turn above ends (and is settled) before this runs.
  setTimeout(() => c.end(), 1);
}, 10);
const got = await sink.done(c.localPort);
clearTimeout(timer);
console.log(
  JSON.stringify({
    bytes: got.bytes,
    sameBytes: got.sha === createHash('sha256').update(data).digest('hex'),
    strandedSubmits: stats()[backend].strandedSubmits,
  }),
);
await sink.close();
