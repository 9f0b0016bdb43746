/**
 * The framework's ceiling: a bare Fastify server with the purchase route's shape (JSON body in,
 * 202 JSON out, a bearer header read) and nothing else. Prints its URL, runs until SIGTERM.
 */
import Fastify from 'fastify';
import { createPool, type RowDataPacket } from 'mysql2/promise';
import { parseCommandLine } from '../src/cli/command-line.ts';

const { positionals } = parseCommandLine(
  {
    name: 'bench/bare-fastify',
    usage: `usage: node_modules/.bin/node bench/bare-fastify.ts [MYSQL_URL]

A baseline the benchmarks start by themselves (bench/lib.ts): a bare Fastify server with the purchase
route's shape and nothing else (the framework's ceiling); with a MySQL URL, also the activity detail
read straight from MySQL on every request. Prints its URL, serves on 127.0.0.1 until SIGTERM.`,
  },
  { allowPositionals: true },
);

const app = Fastify({ logger: false });
let id = 0;
app.post('/api/v1/activities/:id/purchase', async (request, reply) => {
  const body = request.body as { requestId?: string };
  if (!request.headers.authorization || typeof body?.requestId !== 'string') return reply.status(400).send({ error: { code: 'INVALID_REQUEST' } });
  return reply.status(202).send({ orderId: String(++id), status: 'QUEUED' });
});
// With a MySQL URL: the read path's baseline, the activity detail straight from MySQL every time.
const mysqlUrl = positionals[0];
if (mysqlUrl) {
  const pool = createPool({ uri: mysqlUrl, connectionLimit: 10, timezone: 'Z' });
  app.get('/api/v1/activities/:id', async (request, reply) => {
    const [rows] = await pool.query<RowDataPacket[]>(
      `SELECT a.id, a.name, a.price_cents, a.start_at, a.end_at, a.limit_per_user,
              (SELECT SUM(s.available) FROM activity_stock s WHERE s.activity_id = a.id) AS available,
              c.id AS cid, c.name AS cname, c.description, c.price_cents AS cprice, c.category
         FROM activities a JOIN commodities c ON c.id = a.commodity_id
        WHERE a.id = ?`,
      [(request.params as { id: string }).id],
    );
    const r = rows[0];
    if (!r) return reply.status(404).send({ error: { code: 'NOT_FOUND' } });
    return {
      activity: {
        id: String(r['id']),
        name: r['name'],
        priceCents: Number(r['price_cents']),
        startAt: r['start_at'],
        endAt: r['end_at'],
        limitPerUser: r['limit_per_user'],
        remaining: Number(r['available']),
        commodity: { id: String(r['cid']), name: r['cname'], description: r['description'], priceCents: Number(r['cprice']), category: r['category'] },
      },
    };
  });
}
const url = await app.listen({ port: 0, host: '127.0.0.1' });
process.stdout.write(`${url}\n`);
process.on('SIGTERM', () => {
  app.close().then(() => process.exit(0));
});
