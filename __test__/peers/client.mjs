// A node:net client in its own process, for tests whose connecting peer must be in another
// process: opens `count` connections to 127.0.0.1:port one after the other, on each sends
// `ping <i>` and its FIN and waits for the server to echo it and end, and prints one JSON line
// `{ localPorts }` (each connection's local port, in order). Exits 3 after 20 s.
//
//   node client.mjs <port> <count>
import net from 'node:net';

const [port, count] = process.argv.slice(2).map(Number);
setTimeout(() => {
  console.error('client: no answer in 20 s');
  process.exit(3);
}, 20_000).unref();

/** One connection: resolves with its local port once the echo and the server's FIN came. */
function ping(i) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1' }, () => s.end(`ping ${i}`));
    let got = '';
    s.setEncoding('utf8');
    s.on('data', (d) => (got += d));
    s.on('error', reject);
    s.on('end', () => {
      if (got === `ping ${i}`) resolve(s.localPort);
      else reject(new Error(`connection ${i}: got ${JSON.stringify(got)}`));
    });
  });
}

const localPorts = [];
for (let i = 0; i < count; i++) localPorts.push(await ping(i));
console.log(JSON.stringify({ localPorts }));
