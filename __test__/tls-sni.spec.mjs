// SNI on the zerosock TLS server (`tls.SNI: [{ servername, key, cert }]`, node:tls's
// addContext): the certificate is picked by the name the client asks for — exact names, a
// `*.` wildcard one label deep, the default `key`/`cert` for any other name and for none —
// as node:tls clients in this process and in another one and `openssl s_client` see it.
import test from 'ava';
import { spawn, fork } from 'node:child_process';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { connect } from 'zerosock';
import { backends, once, pattern, sha256, within } from './helpers.mjs';
import { certs, echoServer, haveOpenssl } from './tls-certs.mjs';

const openssl = haveOpenssl();
if (!openssl) console.log('TLS SNI tests skipped: no `openssl` command to make certificates');
const tlsTest = openssl ? test : test.skip;
const PEER = fileURLToPath(new URL('./peers/tls-peer.mjs', import.meta.url));

/** The TLS echo server with two SNI contexts beside its default certificate. */
const sniServer = (backend) =>
  echoServer(backend, {
    SNI: [
      { servername: 'alpha.test', ...certs().alpha },
      { servername: '*.beta.test', ...certs().wildBeta },
    ],
  });

/** What a node:tls client asking for `servername` gets: { cn, authorized, error }. */
function ask(port, servername) {
  return new Promise((resolve) => {
    // rejectUnauthorized: false, to see which certificate came even when it does not fit
    const s = tls.connect({
      port,
      host: '127.0.0.1',
      ca: certs().ca,
      servername,
      rejectUnauthorized: false,
    });
    // ended cleanly (close_notify), so the server completes each handshake: a destroy() right
    // after 'secureConnect' resets the connection before the server read the client's Finished
    // (node:tls's own server then reports ECONNRESET as well)
    s.once('secureConnect', () => {
      const out = {
        cn: s.getPeerCertificate().subject.CN,
        authorized: s.authorized,
        error: s.authorizationError ?? null,
      };
      s.on('data', () => {});
      s.once('close', () => resolve(out));
      s.end();
    });
    s.once('error', (e) => resolve({ error: e.code }));
  });
}

/** node:tls's own server with the same contexts: what its sockets say `servername` is. */
async function nodeSniServer() {
  const servernames = [];
  const server = tls.createServer(certs().server, (s) => {
    servernames.push(s.servername);
    s.on('data', () => {});
    s.on('end', () => s.end());
    s.on('error', () => {});
  });
  server.addContext('alpha.test', certs().alpha);
  server.addContext('*.beta.test', certs().wildBeta);
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: server.address().port, servernames };
}

const ASKED = ['alpha.test', 'ALPHA.test', 'x.beta.test', 'a.b.beta.test', 'localhost', ''];

for (const backend of backends) {
  tlsTest(
    `${backend}: the server socket's servername is the SNI name the client sent, as on node:tls's server`,
    async (t) => {
      const zs = await sniServer(backend);
      const node = await nodeSniServer();
      for (const name of ASKED) {
        await ask(zs.port, name);
        await ask(node.port, name);
      }
      t.is(node.servernames.length, ASKED.length);
      t.deepEqual(zs.servernames, node.servernames);
      // a zerosock client's socket says the name it asked for
      const s = await within(
        connect({
          backend,
          port: node.port,
          host: '127.0.0.1',
          tls: { ca: certs().ca, servername: 'alpha.test' },
        }),
        10_000,
        'connect',
      );
      t.is(s.servername, 'alpha.test');
      s.end();
      await within(once(s, 'close'), 10_000, "'close'");
      await within(zs.server.close(), 10_000, 'server.close');
      node.server.close();
    },
  );

  tlsTest(
    `${backend}: SNI picks the certificate by the asked name (node:tls clients)`,
    async (t) => {
      const { server, port, clientErrors } = await sniServer(backend);
      t.deepEqual(await ask(port, 'alpha.test'), {
        cn: 'alpha.test',
        authorized: true,
        error: null,
      });
      t.deepEqual(await ask(port, 'ALPHA.test'), {
        cn: 'alpha.test',
        authorized: true,
        error: null,
      });
      t.deepEqual(await ask(port, 'x.beta.test'), {
        cn: '*.beta.test',
        authorized: true,
        error: null,
      });
      // one label only: a.b.beta.test is not under *.beta.test; it gets the default certificate
      const deep = await ask(port, 'a.b.beta.test');
      t.is(deep.cn, 'localhost');
      t.is(deep.authorized, false, 'the default certificate does not carry that name');
      t.is(deep.error, 'ERR_TLS_CERT_ALTNAME_INVALID');
      t.deepEqual(await ask(port, 'localhost'), { cn: 'localhost', authorized: true, error: null });
      // an IP address sends no SNI at all: the default certificate
      const noSni = await ask(port, '');
      t.is(noSni.cn, 'localhost');
      t.deepEqual(
        clientErrors.map((e) => e.code),
        [],
        'every handshake completed on the server',
      );
      await within(server.close(), 10_000, 'server.close');
    },
  );

  tlsTest(
    `${backend}: SNI to a node:tls client in another process (8 MiB SHA-256) and to openssl s_client`,
    async (t) => {
      const { server, port } = await sniServer(backend);
      const bytes = 8 << 20;
      const child = fork(PEER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      t.teardown(() => child.kill());
      child.send({
        mode: 'client',
        port,
        ca: certs().ca,
        bytes,
        seed: 7,
        servername: 'q.beta.test',
      });
      const [answer] = await within(once(child, 'message'), 30_000, 'the peer');
      t.is(answer.error, undefined, String(answer.error));
      t.is(answer.subject, '*.beta.test');
      t.true(answer.authorized);
      t.is(answer.sha, sha256().update(pattern(bytes, 7)).digest('hex'));
      // openssl s_client, its own SNI
      const sc = spawn(
        'openssl',
        [
          's_client',
          '-connect',
          `127.0.0.1:${port}`,
          '-servername',
          'alpha.test',
          '-CAfile',
          `${certs().dir}/ca.pem`,
          '-verify_return_error',
        ],
        { stdio: ['pipe', 'pipe', 'pipe'] },
      );
      t.teardown(() => sc.kill());
      let out = '';
      sc.stdout.on('data', (d) => (out += d));
      sc.stdin.end('Q\n');
      await within(once(sc, 'exit'), 15_000, 's_client');
      t.regex(out, /subject=\/?CN\s?=\s?alpha\.test/);
      t.regex(out, /Verify return code: 0 \(ok\)/);
      await within(server.close(), 10_000, 'server.close');
    },
  );
}
