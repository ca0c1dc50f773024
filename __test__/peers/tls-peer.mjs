// A node:tls peer in its own process, for TLS tests whose peer must be in another process.
// The parent sends one IPC message:
//   { mode: 'server', key, cert }: an echo server on 127.0.0.1; answers { port }.
//   { mode: 'client', port, ca, bytes, seed, servername? }: sends `bytes` of a pattern in random
//     write sizes, reads the echo until `bytes` came back, answers { sha, n, authorized, subject }
//     (`subject`: the server certificate's CN; `servername` defaults to 'localhost'). With
//     `block`, the bytes are pattern(block, seed) repeated (`bytes` a multiple of it), so a
//     1 GiB run needs no 1 GiB buffer.
import tls from 'node:tls';
import { createHash } from 'node:crypto';

function pattern(len, seed) {
  const out = Buffer.allocUnsafe(len);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < len; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

process.once('message', (m) => {
  if (m.mode === 'server') {
    const server = tls.createServer({ key: m.key, cert: m.cert }, (s) => {
      s.on('error', () => {});
      s.pipe(s);
    });
    server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
    return;
  }
  const data = pattern(m.block ?? m.bytes, m.seed);
  const h = createHash('sha256');
  let n = 0;
  const c = tls.connect({
    port: m.port,
    host: '127.0.0.1',
    ca: m.ca,
    servername: m.servername ?? 'localhost',
  });
  let subject;
  c.on('secureConnect', () => {
    subject = c.getPeerCertificate().subject;
    let off = 0;
    let x = m.seed;
    const pump = () => {
      while (off < m.bytes) {
        x = (x * 1103515245 + 12345) >>> 0;
        const at = off % data.length;
        const len = Math.min(1 + (x % 65536), data.length - at, m.bytes - off);
        const ok = c.write(data.subarray(at, at + len));
        off += len;
        if (!ok) return void c.once('drain', pump);
      }
    };
    pump();
  });
  c.on('data', (d) => {
    h.update(d);
    n += d.length;
    if (n >= m.bytes) c.end();
  });
  c.on('close', () => {
    process.send({ sha: h.digest('hex'), n, authorized: c.authorized, subject: subject?.CN }, () =>
      process.exit(0),
    );
  });
  c.on('error', (e) => process.send({ error: e.code ?? e.message }, () => process.exit(1)));
});
