// Strands a submit on purpose, in its own process: a raw native sendCopy() of 64 MiB from a
// timer, bypassing the JS write path that schedules the flush, so the engine keeps the
// remainder queued and nobody owes it a flush. No event follows (the node:net peer in this
// process only reads), so only the check at the end of the turn, right before the loop sleeps,
// can find it. Prints one JSON line, unless ZEROSOCK_DEBUG=1 made the check throw (then the
// process dies of ERR_ZEROSOCK_STRANDED_SUBMIT).
//
//   node strand.mjs <backend>
import net from 'node:net';
import { connect, stats } from 'zerosock';

const backend = process.argv[2];
const TOTAL = 64 << 20;
let received = 0;
const peer = net.createServer((s) => {
  s.on('data', (d) => {
    received += d.length;
    if (received === TOTAL) report(s);
  });
});
await new Promise((r) => peer.listen(0, '127.0.0.1', r));
const c = await connect({ port: peer.address().port, host: '127.0.0.1', backend });
c.on('data', () => {});
setTimeout(() => c.engine.native.sendCopy(c.id, Buffer.alloc(TOTAL, 7)), 10);
const timer = setTimeout(() => {
  console.log(JSON.stringify({ received, strandedSubmits: stats()[backend].strandedSubmits }));
  process.exit(3);
}, 20_000);

function report(s) {
  clearTimeout(timer);
  console.log(JSON.stringify({ received, strandedSubmits: stats()[backend].strandedSubmits }));
  s.destroy();
  c.destroy();
  peer.close();
}
