// Certificates for the TLS tests, made with the `openssl` command in a temporary directory
// (once per process): a CA and a server certificate it signs (localhost, 127.0.0.1, ::1), a
// client certificate it signs, an expired server certificate, a self-signed one (as
// `openssl req -x509` makes it: CA:TRUE), and a second CA that signed none of them; and the
// zerosock TLS echo server the TLS specs serve with them.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'zerosock';

/** Whether the `openssl` command is here (the TLS specs print why they skip otherwise). */
export function haveOpenssl() {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

let made = null;

/** `{ ca, server: { key, cert }, client, expired, selfSigned, otherCa, dir }` as PEM strings. */
export function certs() {
  if (made !== null) return made;
  const dir = mkdtempSync(join(tmpdir(), 'zerosock-tls-'));
  const run = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const key = (name) =>
    run(
      'genpkey',
      '-algorithm',
      'EC',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-out',
      `${name}.key`,
    );
  const ca = (name, cn) => {
    key(name);
    run(
      'req',
      '-x509',
      '-new',
      '-key',
      `${name}.key`,
      '-out',
      `${name}.pem`,
      '-days',
      '30',
      '-subj',
      `/CN=${cn}`,
    );
  };
  ca('ca', 'zerosock test CA');
  ca('other', 'Somebody else');
  const ext = (name, body) => writeFileSync(join(dir, `${name}.ext`), body);
  ext('server', 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nextendedKeyUsage=serverAuth\n');
  ext('client', 'extendedKeyUsage=clientAuth\n');
  ext('alpha', 'subjectAltName=DNS:alpha.test\nextendedKeyUsage=serverAuth\n');
  ext('wild', 'subjectAltName=DNS:*.beta.test\nextendedKeyUsage=serverAuth\n');
  const signed = (name, cn, extName) => {
    key(name);
    run(
      'req',
      '-new',
      '-key',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      '-subj',
      `/CN=${cn}/O=zerosock`,
    );
    run(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.pem`,
      '-days',
      '30',
      '-extfile',
      `${extName}.ext`,
    );
  };
  signed('server', 'localhost', 'server');
  signed('client', 'test client', 'client');
  signed('alpha', 'alpha.test', 'alpha');
  signed('wild', '*.beta.test', 'wild');
  // expired: `openssl ca` is the 3.0 tool that takes explicit dates
  key('expired');
  run('req', '-new', '-key', 'expired.key', '-out', 'expired.csr', '-subj', '/CN=localhost');
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(join(dir, 'serial'), '1000\n');
  writeFileSync(
    join(dir, 'ca.cnf'),
    `[ca]\ndefault_ca = d\n[d]\ndir = ${dir}\ndatabase = $dir/index.txt\nnew_certs_dir = $dir\nserial = $dir/serial\ndefault_md = sha256\npolicy = p\n[p]\ncommonName = supplied\n`,
  );
  run(
    'ca',
    '-batch',
    '-config',
    'ca.cnf',
    '-cert',
    'ca.pem',
    '-keyfile',
    'ca.key',
    '-in',
    'expired.csr',
    '-out',
    'expired.pem',
    '-startdate',
    '20200101000000Z',
    '-enddate',
    '20200201000000Z',
    '-extfile',
    'server.ext',
    '-notext',
  );
  key('self');
  run(
    'req',
    '-x509',
    '-new',
    '-key',
    'self.key',
    '-out',
    'self.pem',
    '-days',
    '30',
    '-subj',
    '/CN=localhost',
    '-addext',
    'subjectAltName=DNS:localhost,IP:127.0.0.1',
  );
  const read = (f) => readFileSync(join(dir, f), 'utf8');
  const pair = (n) => ({ key: read(`${n}.key`), cert: read(`${n}.pem`) });
  made = {
    dir,
    ca: read('ca.pem'),
    otherCa: read('other.pem'),
    server: pair('server'),
    client: pair('client'),
    alpha: pair('alpha'),
    wildBeta: pair('wild'),
    expired: pair('expired'),
    selfSigned: pair('self'),
  };
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return made;
}

/**
 * Starts a zerosock TLS echo server with the server certificate; `tlsOptions` extend its `tls`
 * options, `extra` its other options. Resolves with { server, port, clientErrors }.
 */
export async function echoServer(backend, tlsOptions = {}, extra = {}) {
  const c = certs();
  const servernames = []; // each connection's `servername`, in order
  const server = createServer({ backend, tls: { ...c.server, ...tlsOptions }, ...extra }, (s) => {
    servernames.push(s.servername);
    s.on('data', (v) => s.send(v)); // sent from inside the 'data' callback
    s.on('end', () => s.end()); // ended from inside the 'end' callback
    s.on('error', () => {});
  });
  const clientErrors = [];
  server.on('tlsClientError', (err) => clientErrors.push(err));
  await server.listen({ port: 0, host: '127.0.0.1' });
  return { server, port: server.address().port, clientErrors, servernames };
}
