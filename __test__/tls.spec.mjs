// TLS (rustls in the engine) against real peers: node:tls in this process and in another one,
// `openssl s_client` / `s_server`, undici through node:http on a zerosock TLS server; refusals
// with node:tls's codes (node:tls itself is the oracle), mutual TLS, a server that survives
// garbage, truncated and reset handshakes and handshake timeouts, options validated, nothing
// leaked.
import test from 'ava';
import net from 'node:net';
import tls from 'node:tls';
import { fork, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { connect, createServer, createHttpServer, stats } from 'zerosock';
import {
  backends,
  fdCount,
  once,
  pattern,
  repeatedSha,
  sha256,
  until,
  within,
} from './helpers.mjs';
import { certs, echoServer, haveOpenssl } from './tls-certs.mjs';

const openssl = haveOpenssl();
if (!openssl) console.log('TLS tests skipped: no `openssl` command to make the certificates with');
const tlsTest = openssl ? test : test.skip;
const tlsSerial = openssl ? test.serial : test.skip;
const PEER = fileURLToPath(new URL('./peers/tls-peer.mjs', import.meta.url));

/** A node:tls peer in another process (see peers/tls-peer.mjs); resolves with its answer. */
function peer(message, onFirst) {
  const child = fork(PEER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  child.send(message);
  if (onFirst) {
    child.once('message', onFirst);
    return { child };
  }
  const answer = new Promise((resolve, reject) => {
    child.once('message', resolve);
    // 'close' comes after every IPC message was read ('exit' may come first)
    child.once('close', (code) => reject(new Error(`tls peer exited (${code}) without an answer`)));
  });
  return { child, answer };
}

/** A node:tls client's outcome against `port` with `options`: 'ok' or the error's code. */
function nodeOutcome(port, options) {
  return new Promise((resolve) => {
    const c = tls.connect({ port, host: '127.0.0.1', ...options });
    c.once('secureConnect', () => {
      resolve({ ok: true, authorized: c.authorized, code: c.authorizationError });
      c.destroy();
    });
    c.once('error', (e) => resolve({ ok: false, code: e.code }));
  });
}

/** The same through zerosock's `connect({ tls })`. */
async function zerosockOutcome(backend, port, options) {
  try {
    const s = await within(
      connect({ backend, port, host: '127.0.0.1', tls: options }),
      10_000,
      'connect',
    );
    const out = { ok: true, authorized: s.authorized, code: s.authorizationError };
    s.destroy();
    return out;
  } catch (e) {
    return { ok: false, code: e.code };
  }
}

async function nodeTlsServer(pair, options = {}) {
  const server = tls.createServer({ ...pair, ...options }, (s) => {
    s.on('error', () => {});
    s.pipe(s);
  });
  server.on('tlsClientError', () => {});
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return server;
}

const poolInUse = (backend) => stats()[backend]?.poolInUse ?? 0;

const GIB = 1 << 30;
const BLOCK = 4 << 20;

for (const backend of backends) {
  tlsTest(
    `${backend}: node:tls client in another process -> zerosock TLS echo: 1 GiB SHA-256, random write sizes`,
    async (t) => {
      t.timeout(150_000);
      const { server, port } = await echoServer(backend);
      const { answer } = peer({
        mode: 'client',
        port,
        ca: certs().ca,
        bytes: GIB,
        block: BLOCK,
        seed: 7,
      });
      const r = await within(answer, 120_000, 'node:tls client');
      t.is(r.error, undefined);
      t.true(r.authorized);
      t.is(r.n, GIB);
      t.is(r.sha, repeatedSha(GIB, BLOCK, 7));
      await within(server.close(), 10_000, 'server.close');
    },
  );

  tlsTest(
    `${backend}: zerosock TLS client -> node:tls echo in another process: once('drain', pump) with 256 KiB sends, 1 GiB SHA-256`,
    async (t) => {
      t.timeout(150_000);
      let resolvePort;
      const portP = new Promise((r) => (resolvePort = r));
      const { child } = peer({ mode: 'server', ...certs().server }, (m) => resolvePort(m.port));
      try {
        const port = await within(portP, 10_000, 'peer listening');
        const s = await connect({
          backend,
          port,
          host: '127.0.0.1',
          tls: { ca: certs().ca, servername: 'localhost' },
        });
        t.true(s.encrypted);
        t.true(s.authorized);
        const total = GIB;
        const data = pattern(BLOCK, 9);
        const h = sha256();
        let got = 0;
        s.on('data', (v) => {
          h.update(v);
          got += v.byteLength;
          if (got === total) s.end();
        });
        let off = 0;
        let drains = 0;
        const pump = () => {
          while (off < total) {
            const at = off % BLOCK;
            const ok = s.send(data.subarray(at, at + (256 << 10)));
            off += 256 << 10;
            if (!ok) {
              drains++;
              return void s.once('drain', pump); // re-armed from inside 'drain'
            }
          }
        };
        pump();
        await within(once(s, 'close', 120_000), 120_000, 'echo of 1 GiB');
        t.is(got, total);
        t.is(h.digest('hex'), repeatedSha(GIB, BLOCK, 9));
        t.true(drains > 0, 'backpressure was exercised');
        t.is(s.writableLength, 0);
      } finally {
        child.kill();
      }
    },
  );

  tlsTest(
    `${backend}: ALPN, protocol, and getPeerCertificate() as node:tls reports them`,
    async (t) => {
      const c = certs();
      const { server, port } = await echoServer(backend, { ALPNProtocols: ['h2', 'http/1.1'] });
      let serverSide;
      server.on('secureConnection', (s) => (serverSide = s));
      const n = tls.connect({
        port,
        host: '127.0.0.1',
        ca: c.ca,
        servername: 'localhost',
        ALPNProtocols: ['http/1.1'],
      });
      await once(n, 'secureConnect');
      t.is(n.alpnProtocol, 'http/1.1');
      await until(() => serverSide !== undefined);
      t.is(serverSide.alpnProtocol, 'http/1.1');
      t.is(serverSide.getProtocol(), n.getProtocol());
      t.true(serverSide.encrypted);
      t.false(
        serverSide.authorized,
        'a server that did not ask for a certificate is not authorized',
      );
      n.destroy();
      // the client side's view of the certificate matches node:tls's field by field
      const ns = await nodeTlsServer(c.server, { ALPNProtocols: ['x', 'y'] });
      const port2 = ns.address().port;
      const ours = await connect({
        backend,
        port: port2,
        host: '127.0.0.1',
        tls: { ca: c.ca, servername: 'localhost', ALPNProtocols: ['y'] },
      });
      const theirs = tls.connect({
        port: port2,
        host: '127.0.0.1',
        ca: c.ca,
        servername: 'localhost',
      });
      await once(theirs, 'secureConnect');
      const a = ours.getPeerCertificate();
      const b = theirs.getPeerCertificate();
      for (const k of [
        'subjectaltname',
        'valid_from',
        'valid_to',
        'fingerprint',
        'fingerprint256',
        'fingerprint512',
        'serialNumber',
        'ca',
      ]) {
        t.deepEqual(a[k], b[k], k);
      }
      t.deepEqual({ ...a.subject }, { ...b.subject });
      t.deepEqual({ ...a.issuer }, { ...b.issuer });
      t.true(a.raw.equals(b.raw));
      t.is(ours.alpnProtocol, 'y');
      t.is(ours.getProtocol(), 'TLSv1.3');
      t.truthy(ours.getCipher()?.name);
      ours.destroy();
      theirs.destroy();
      ns.close();
      await server.close();
    },
  );

  tlsTest(`${backend}: refusals carry the code node:tls gives for the same server`, async (t) => {
    const c = certs();
    const cases = [
      ['self-signed, no ca', c.selfSigned, {}],
      ['self-signed given as ca', c.selfSigned, { ca: c.selfSigned.cert, servername: 'localhost' }],
      ['CA-signed, no ca', c.server, { servername: 'localhost' }],
      ['wrong name', c.server, { ca: c.ca, servername: 'example.com' }],
      ['IP name in the SANs', c.server, { ca: c.ca, servername: '127.0.0.1' }],
      ['expired', c.expired, { ca: c.ca, servername: 'localhost' }],
      ['another CA', c.server, { ca: c.otherCa, servername: 'localhost' }],
    ];
    for (const [what, pair, options] of cases) {
      const ns = await nodeTlsServer(pair);
      const port = ns.address().port;
      const want = await nodeOutcome(port, options);
      const got = await zerosockOutcome(backend, port, options);
      t.deepEqual(got, want, what);
      // rejectUnauthorized: false connects and reports the same reason
      const lax = { ...options, rejectUnauthorized: false };
      t.deepEqual(
        await zerosockOutcome(backend, port, lax),
        await nodeOutcome(port, lax),
        `${what}, lax`,
      );
      ns.close();
    }
  });

  tlsTest(
    `${backend}: mutual TLS: requestCert with the CA, clients with and without a certificate`,
    async (t) => {
      const c = certs();
      const { server, port, clientErrors } = await echoServer(backend, {
        requestCert: true,
        ca: c.ca,
      });
      let peerCert;
      server.on(
        'secureConnection',
        (s) => (peerCert = { authorized: s.authorized, cert: s.getPeerCertificate() }),
      );
      // (the client waits for an echo: closing at 'secureConnect' could reset the connection
      // before the server read the client's certificate flight)
      const n = tls.connect({
        port,
        host: '127.0.0.1',
        ca: c.ca,
        servername: 'localhost',
        ...c.client,
      });
      n.on('secureConnect', () => n.write('ping'));
      await within(once(n, 'data'), 10_000, 'echo with a client certificate');
      n.destroy();
      await until(() => peerCert !== undefined);
      t.true(peerCert.authorized);
      t.is(peerCert.cert.subject.CN, 'test client');
      // no certificate: refused (the server keeps serving)
      const none = await within(
        new Promise((resolve) => {
          const n = tls.connect({ port, host: '127.0.0.1', ca: c.ca, servername: 'localhost' });
          n.on('error', (e) => resolve(e.code));
          n.on('close', () => resolve('closed'));
          n.on('secureConnect', () => n.write('x'));
        }),
        10_000,
        'client without a certificate',
      );
      t.truthy(none);
      await until(() => clientErrors.length > 0);
      t.regex(clientErrors[0].code, /CERT|CERTIFICATE/);
      // our client with a certificate against node:tls requiring one
      const ns = await nodeTlsServer(c.server, {
        requestCert: true,
        rejectUnauthorized: true,
        ca: c.ca,
      });
      let nodeSawCn;
      ns.on('secureConnection', (s) => (nodeSawCn = s.getPeerCertificate().subject?.CN));
      const s = await connect({
        backend,
        port: ns.address().port,
        host: '127.0.0.1',
        tls: { ca: c.ca, servername: 'localhost', ...c.client },
      });
      await until(() => nodeSawCn !== undefined);
      t.is(nodeSawCn, 'test client');
      s.destroy();
      ns.close();
      await server.close();
    },
  );

  tlsTest(
    `${backend}: the server survives garbage, a truncated handshake and a reset one, and keeps serving`,
    async (t) => {
      const { server, port, clientErrors } = await echoServer(backend);
      const raw = (bytes, how) =>
        new Promise((resolve) => {
          const r = net.connect(port, '127.0.0.1', () => {
            r.write(bytes);
            if (how === 'end') r.end();
            if (how === 'reset') setTimeout(() => r.resetAndDestroy(), 20);
          });
          r.on('error', () => {});
          r.on('data', () => {});
          r.on('close', resolve);
          if (how === 'wait') setTimeout(() => r.end(), 100);
        });
      await within(raw('GET / HTTP/1.1\r\nHost: x\r\n\r\n', 'wait'), 10_000, 'garbage');
      // the first bytes of a ClientHello, then FIN / RST
      const partial = Buffer.from([
        0x16, 0x03, 0x01, 0x00, 0xc8, 0x01, 0x00, 0x00, 0xc4, 0x03, 0x03,
      ]);
      await within(raw(partial, 'end'), 10_000, 'truncated');
      await within(raw(partial, 'reset'), 10_000, 'reset');
      await until(() => clientErrors.length >= 3);
      t.is(clientErrors.length, 3);
      for (const e of clientErrors) t.is(typeof e.code, 'string');
      t.is(clientErrors[1].code, 'ECONNRESET');
      const ok = await nodeOutcome(port, { ca: certs().ca, servername: 'localhost' });
      t.true(ok.ok, 'a proper client is still served');
      await until(() => server.connectionCount === 0);
      await within(server.close(), 10_000, 'server.close');
    },
  );

  tlsTest(
    `${backend}: handshakeTimeout fails a silent client; close() ends a handshake in progress`,
    async (t) => {
      const { server, port, clientErrors } = await echoServer(backend, { handshakeTimeout: 150 });
      const silent = net.connect(port, '127.0.0.1');
      silent.on('error', () => {});
      await within(once(silent, 'close', 5_000), 5_000, 'timed-out handshake closes');
      t.is(clientErrors[0]?.code, 'ERR_TLS_HANDSHAKE_TIMEOUT');
      const { server: s2, port: p2 } = await echoServer(backend);
      const stuck = net.connect(p2, '127.0.0.1');
      stuck.on('error', () => {});
      await once(stuck, 'connect');
      await until(() => s2.connectionCount === 1);
      await within(s2.close(), 5_000, 'close() with a handshake in progress');
      await within(once(stuck, 'close', 5_000), 5_000, 'stuck client closed');
      t.pass();
      await server.close();
    },
  );

  tlsTest(
    `${backend}: openssl s_client against the zerosock server, zerosock against openssl s_server`,
    async (t) => {
      const c = certs();
      const { server, port } = await echoServer(backend);
      const sc = spawn(
        'openssl',
        [
          's_client',
          '-connect',
          `127.0.0.1:${port}`,
          '-CAfile',
          `${c.dir}/ca.pem`,
          '-servername',
          'localhost',
          '-quiet',
          '-no_ign_eof',
          '-verify_return_error',
        ],
        { stdio: ['pipe', 'pipe', 'pipe'] },
      );
      let out = '';
      sc.stdout.on('data', (d) => {
        out += d;
        if (out.includes('hello from openssl')) sc.stdin.end();
      });
      sc.stdin.write('hello from openssl\n');
      const killer = setTimeout(() => sc.kill(), 15_000);
      await once(sc, 'close', 20_000);
      clearTimeout(killer);
      t.true(out.includes('hello from openssl'), `s_client got: ${out}`);
      await server.close();
      // s_server -rev answers each line reversed
      const free = net.createServer();
      await new Promise((r) => free.listen(0, '127.0.0.1', r));
      const sport = free.address().port;
      await new Promise((r) => free.close(r));
      const ss = spawn(
        'openssl',
        [
          's_server',
          '-accept',
          `127.0.0.1:${sport}`,
          '-cert',
          `${c.dir}/server.pem`,
          '-key',
          `${c.dir}/server.key`,
          '-rev',
          '-quiet',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      try {
        let s;
        await until(async () => true);
        const deadline = Date.now() + 10_000;
        while (s === undefined) {
          try {
            s = await connect({
              backend,
              port: sport,
              host: '127.0.0.1',
              tls: { ca: c.ca, servername: 'localhost' },
            });
          } catch (e) {
            if (e.code !== 'ECONNREFUSED' || Date.now() > deadline) throw e;
            await new Promise((r) => setTimeout(r, 50));
          }
        }
        let reply = '';
        s.on('data', (v) => (reply += Buffer.from(v).toString()));
        s.send('zerosock\n');
        await until(() => reply.includes('kcosorez'), 10_000);
        t.true(reply.includes('kcosorez'));
        s.destroy();
      } finally {
        ss.kill();
      }
    },
  );

  tlsTest(`${backend}: undici over https to node:http on a zerosock TLS server`, async (t) => {
    const c = certs();
    const app = createHttpServer(
      (req, res) => {
        res.end(`${req.method} ${req.url} encrypted=${req.socket.encrypted === true}`);
      },
      { backend, tls: c.server },
    );
    await app.listen({ port: 0, host: '127.0.0.1' });
    const agent = new Agent({ connect: { ca: c.ca, servername: 'localhost' } });
    const port = app.address().port;
    for (let i = 0; i < 20; i++) {
      const r = await request(`https://127.0.0.1:${port}/n${i}`, { dispatcher: agent });
      t.is(await r.body.text(), `GET /n${i} encrypted=true`);
    }
    await agent.close();
    await within(app.close(), 10_000, 'app.close');
  });

  tlsSerial(
    `${backend}: sendZeroCopy over TLS is honest (copied), writableLength, fds and the pool come back`,
    async (t) => {
      const { server, port } = await echoServer(backend);
      // (a first connection makes the engine; the baseline is taken with it)
      const warm = await connect({
        backend,
        port,
        host: '127.0.0.1',
        tls: { ca: certs().ca, servername: 'localhost' },
      });
      warm.end();
      await once(warm, 'close');
      await until(() => server.connectionCount === 0);
      const fds = fdCount();
      const pool = poolInUse(backend);
      const s = await connect({
        backend,
        port,
        host: '127.0.0.1',
        tls: { ca: certs().ca, servername: 'localhost' },
      });
      const buf = pattern(1 << 20, 5);
      let got = 0;
      const h = sha256();
      s.on('data', (v) => {
        h.update(v);
        got += v.byteLength;
      });
      const r = await within(s.sendZeroCopy(buf), 10_000, 'sendZeroCopy');
      t.true(r.copied);
      s.send('tail');
      await until(() => got === buf.length + 4, 10_000);
      t.is(
        h.digest('hex'),
        sha256()
          .update(Buffer.concat([buf, Buffer.from('tail')]))
          .digest('hex'),
      );
      t.is(s.writableLength, 0);
      s.end();
      await once(s, 'close');
      await until(() => server.connectionCount === 0);
      await until(() => fdCount() <= fds && poolInUse(backend) <= pool, 5_000);
      t.true(fdCount() <= fds);
      t.true(poolInUse(backend) <= pool);
      await server.close();
    },
  );

  tlsSerial(
    `${backend}: sendFile over TLS to node:tls in another process: encrypted in order with send(), copied, fds back`,
    async (t) => {
      const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
      const { join } = await import('node:path');
      const { tmpdir } = await import('node:os');
      const dir = mkdtempSync(join(tmpdir(), 'zerosock-tls-file-'));
      t.teardown(() => rmSync(dir, { recursive: true, force: true }));
      const data = pattern((8 << 20) + 5, 11);
      const path = join(dir, 'f');
      writeFileSync(path, data);
      const c = certs();
      const { child, answer } = peer({ mode: 'server', ...c.server });
      t.teardown(() => child.kill());
      const { port } = await within(answer, 10_000, 'node:tls peer listening');
      // (a first connection makes the engine; the baseline is taken with it)
      const tlsOpts = { ca: c.ca, servername: 'localhost' };
      const warm = await connect({ backend, port, host: '127.0.0.1', tls: tlsOpts });
      warm.end();
      await once(warm, 'close');
      const fds = fdCount();
      const s = await connect({
        backend,
        port,
        host: '127.0.0.1',
        tls: { ca: c.ca, servername: 'localhost' },
      });
      const want = Buffer.concat([
        Buffer.from('head'),
        data,
        Buffer.from('mid'),
        data.subarray(100, 100 + 70_000),
        Buffer.from('tail'),
      ]);
      const h = sha256();
      let got = 0;
      const results = [];
      const done = new Promise((resolve, reject) => {
        s.on('data', (v) => {
          if (got === 0) {
            // from inside 'data': a file, a send, a range, a send, then end()
            const files = [
              s.sendFile(path),
              s.send('mid'),
              s.sendFile(path, { offset: 100, length: 70_000 }),
            ];
            s.send('tail');
            Promise.all([files[0], files[2]]).then((r) => {
              results.push(...r);
              s.end();
            }, reject);
          }
          h.update(v);
          got += v.byteLength;
        });
        s.on('close', resolve);
        s.on('error', reject);
      });
      s.send('head');
      await within(done, 30_000, 'the echo of the files');
      t.is(got, want.length);
      t.is(h.digest('hex'), sha256().update(want).digest('hex'));
      t.deepEqual(results, [
        { bytes: data.length, copied: true },
        { bytes: 70_000, copied: true },
      ]);
      t.is(s.writableLength, 0);
      await until(() => fdCount() <= fds, 5_000).catch(() => {});
      t.true(fdCount() <= fds, 'descriptors back');
    },
  );

  tlsTest(`${backend}: tls options are validated with node's codes`, async (t) => {
    const c = certs();
    const bad = (fn, code, what) => {
      const e = t.throws(fn, undefined, what);
      t.is(e?.code, code, what);
      return e;
    };
    const unknown = bad(
      () => createServer({ backend, tls: { ...c.server, ciphers: 'x' } }),
      'ERR_INVALID_ARG_VALUE',
      'unknown key',
    );
    t.regex(unknown.message, /ciphers/);
    bad(
      () => createServer({ backend, tls: { key: 'junk', cert: 'junk' } }),
      'ERR_OSSL_PEM_NO_START_LINE',
      'bad PEM',
    );
    bad(
      () => createServer({ backend, tls: { key: c.client.key, cert: c.server.cert } }),
      'ERR_OSSL_X509_KEY_VALUES_MISMATCH',
      'key mismatch',
    );
    bad(
      () => createServer({ backend, tls: { ...c.server, ALPNProtocols: [''] } }),
      'ERR_INVALID_ARG_VALUE',
      'empty ALPN',
    );
    bad(
      () => createServer({ backend, tls: { ...c.server, requestCert: 'yes' } }),
      'ERR_INVALID_ARG_TYPE',
      'requestCert type',
    );
    await t.throwsAsync(connect({ backend, port: 1, tls: { sni: 'x' } }), {
      code: 'ERR_INVALID_ARG_VALUE',
    });
    await t.throwsAsync(connect({ backend, port: 1, tls: { ca: 42 } }), {
      code: 'ERR_INVALID_ARG_TYPE',
    });
  });
}
