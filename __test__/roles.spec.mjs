// A process that only listens, or only sends, must make progress on its own: nothing else in
// that process submits to the kernel or wakes the event loop for it.
import test from 'ava';
import { execFile } from 'node:child_process';
import net from 'node:net';
import { backends, within } from './helpers.mjs';

const run = (script, args) =>
  new Promise((resolve, reject) =>
    execFile(
      process.execPath,
      ['--input-type=module', '-e', script, ...args],
      { timeout: 20_000 },
      (err, stdout, stderr) =>
        err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
    ),
  );

for (const backend of backends) {
  test(`${backend}: a process that only listens accepts connections`, async (t) => {
    // If the child outlives its work, it says where it stands (stderr) before the test gives up.
    const script = `
      import { createServer, stats } from 'zerosock';
      const steps = [];
      const server = createServer({ backend: process.argv[1] }, (s) => {
        steps.push('connection');
        s.on('data', (v) => s.send(v));
        s.on('end', () => {
          steps.push('end');
          s.end();
          server.close().then(() => steps.push('server closed'));
          setTimeout(() => {
            const st = stats()[process.argv[1]];
            console.error('still alive:', JSON.stringify({ steps, connections: server.connectionCount, st }));
          }, 8000).unref();
        });
        s.on('close', () => steps.push('socket closed'));
      });
      await server.listen({ port: 0, host: '127.0.0.1' });
      console.log(server.address().port);
    `;
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, backend], {
      cwd: process.cwd(),
    });
    // Listen for 'exit' now: the child may exit before the client below sees its 'close'.
    const exited = new Promise((r) => child.on('exit', r));
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    t.teardown(() => child.kill('SIGKILL'));
    const port = await new Promise((resolve) =>
      child.stdout.once('data', (d) => resolve(Number(String(d).trim()))),
    );
    const c = net.connect(port, '127.0.0.1');
    let reply = '';
    c.on('data', (d) => (reply += d));
    c.end('ping');
    await within(new Promise((r) => c.on('close', r)), 10_000, 'echo from a listen-only process');
    t.is(reply, 'ping');
    await within(exited, 10_000, 'child exit').catch((err) => {
      err.message += `; child stderr: ${stderr}`;
      throw err;
    });
  });

  test(`${backend}: a process that only sends gets 'drain' after a large send`, async (t) => {
    let received = 0;
    const server = net.createServer((s) => s.on('data', (d) => (received += d.length)));
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    const script = `
      import { connect } from 'zerosock';
      const c = await connect({ port: Number(process.argv[2]), host: '127.0.0.1', backend: process.argv[1], highWaterMark: 65536 });
      const chunk = Buffer.alloc(1 << 20, 7);
      let drains = 0;
      for (let i = 0; i < 8; i++) {
        if (!c.send(chunk)) { await new Promise((r) => c.once('drain', r)); drains++; }
      }
      c.end();
      await new Promise((r) => c.on('close', r));
      console.log(drains);
    `;
    const out = await within(
      run(script, [backend, String(server.address().port)]),
      20_000,
      'sender',
    );
    t.true(Number(out) >= 1, `drains: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
    t.is(received, 8 << 20);
    server.close();
  });
}
