// The pool grows while views of it are out: small and large buffers grow in turn (small views
// from copy-break, large ones from receives and cork buffers), and every view JS gets, every
// retained view and every cork buffer JS writes into is still the buffer the engine named. A
// view into the wrong region reads someone else's bytes and a cork written there overwrites a
// queued send: both show up here as a wrong byte or a wrong echo.
import test from 'ava';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createServer, stats } from 'zerosock';
import { backends, pattern, within } from './helpers.mjs';

const WRITER = fileURLToPath(new URL('./peers/stepwise-writer.mjs', import.meta.url));
const SEED = 11;
// One large message first (JS caches a view of a large region), then enough small ones to grow
// the small class (1024 per region), large ones to grow the large class (256 per region), and
// small ones again: each class grows after the other has regions JS already holds views of.
const PHASES = [
  [1, 16384],
  [1100, 200],
  [300, 16384],
  [1100, 200],
];

for (const backend of backends) {
  test(`${backend}: views, retained views and cork buffers stay right while the pool grows small, large, small (peer in another process)`, async (t) => {
    t.timeout(90_000);
    const sizes = PHASES.flatMap(([count, size]) => Array.from({ length: count }, () => size));
    const total = sizes.reduce((a, b) => a + b, 0);
    const expected = pattern(total, SEED);
    const before = stats()[backend] ?? { poolSmallRegions: 1, poolLargeRegions: 1 };
    let wrongAtReceipt = 0;
    let wrongLater = 0;
    let serverError = null;
    const server = createServer({ backend }, (sock) => {
      const kept = []; // [view, offset in the stream]
      let got = 0;
      let boundary = 0; // index of the next message end
      let end = sizes[0];
      sock.on('error', (err) => (serverError = err));
      sock.on('data', (view) => {
        if (Buffer.compare(view, expected.subarray(got, got + view.byteLength)) !== 0)
          wrongAtReceipt++;
        kept.push([sock.retain(view), got]);
        got += view.byteLength;
        while (boundary < sizes.length && got >= end) {
          sock.send('a');
          boundary++;
          end += sizes[boundary] ?? 0;
        }
        if (got < total) return;
        // Everything is in, retained: check it all again, then send it all back and end.
        for (const [v, at] of kept) {
          if (Buffer.compare(v, expected.subarray(at, at + v.byteLength)) !== 0) wrongLater++;
          sock.send(v);
          sock.release(v);
        }
        sock.end();
      });
    });
    await server.listen({ port: 0, host: '127.0.0.1' });
    t.teardown(() => server.close());
    const phases = PHASES.map(([count, size]) => `${count}x${size}`);
    const out = await within(
      new Promise((resolve, reject) =>
        execFile(
          process.execPath,
          [WRITER, String(server.address().port), String(SEED), ...phases],
          { timeout: 70_000 },
          (err, stdout, stderr) =>
            err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout)),
        ),
      ),
      80_000,
      'stepwise writer',
    );
    const after = stats()[backend];
    t.is(serverError, null);
    t.is(wrongAtReceipt, 0, 'views that did not hold the bytes received');
    t.is(wrongLater, 0, 'retained views whose bytes changed while held');
    t.is(out.acks, sizes.length);
    t.is(out.echoed, total);
    t.is(out.sha, createHash('sha256').update(expected).digest('hex'), 'echo differs');
    // The premise: both classes grew while views were out.
    t.true(
      after.poolSmallRegions >= before.poolSmallRegions + 2,
      `small regions ${after.poolSmallRegions}`,
    );
    t.true(
      after.poolLargeRegions >= before.poolLargeRegions + 1,
      `large regions ${after.poolLargeRegions}`,
    );
    t.log(
      `${backend}: ${sizes.length} messages; small regions ${before.poolSmallRegions} -> ${after.poolSmallRegions}, large ${before.poolLargeRegions} -> ${after.poolLargeRegions}; copy-breaks ${after.copyBreaks}`,
    );
  });
}
