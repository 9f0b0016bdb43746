/**
 * The load generator's ceiling: a bare node:http server that reads the request and answers a
 * fixed 409 JSON, with no framework and no work. A figure close to this one is as fast as the
 * driver and one core can go; it is printed beside every figure so a reader sees that limit.
 * Prints its URL, runs until SIGTERM.
 */
import { createServer } from 'node:http';
import { parseCommandLine } from '../src/cli/command-line.ts';

parseCommandLine(
  {
    name: 'bench/trivial-server',
    usage: `usage: node_modules/.bin/node bench/trivial-server.ts

The load generator's ceiling the benchmarks start by themselves (bench/lib.ts): node:http answering
a fixed 409 JSON with no framework and no work. Prints its URL, serves on 127.0.0.1 until SIGTERM.`,
  },
  {},
);

const body = JSON.stringify({ error: { code: 'SOLD_OUT', message: 'sold out' } });
const server = createServer((request, response) => {
  request.resume();
  request.on('end', () => {
    response.writeHead(409, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
    response.end(body);
  });
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
