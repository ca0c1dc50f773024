// The node:http twin of examples/http.mjs: the same handler on a plain node:http server.
//
//   node examples/http-node.mjs [--port 8081]
import http from 'node:http';
import { handler } from './http-handler.mjs';

const i = process.argv.indexOf('--port');
const port = i > 0 ? Number(process.argv[i + 1]) : 8081;
const server = http.createServer({ keepAliveTimeout: 5_000 }, handler);
server.listen(port, '127.0.0.1', () => {
  console.log(`http (node:http): http://127.0.0.1:${server.address().port}/`);
});
const stop = () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
