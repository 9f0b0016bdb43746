/**
 * Order persistence: the worker's way (one MySQL transaction per batch of up to 500 reservations
 * of an activity, `persistActivityBatch` as the worker calls it) versus one transaction per order
 * (the same code with batches of 1). Kafka is left out on purpose: both sides get their messages
 * from memory, so the ratio is what batching buys in MySQL.
 * `node bench/persistence.ts [--smoke] [--runs N] [--duration S]`
 */
import { randomBytes } from 'node:crypto';
import { createConnection } from 'mysql2/promise';
import { createDb } from '../src/db/client.ts';
import { migrate } from '../src/db/migrate.ts';
import type { ReservationMessage } from '../src/domain/order.ts';
import { persistActivityBatch } from '../src/services/order-persister.ts';
import { type Figure, flags, medianOf, print } from './lib.ts';

const f = flags();
const server = (process.env.SECKILL_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/seckill').replace(/\/[^/]*$/, '');
const database = `seckill_bench_${randomBytes(4).toString('hex')}`;
const url = `${server}/${database}`;
await migrate(url);
const { db, pool } = createDb(url);
const figures: Figure[] = [];
try {
  const conn = await createConnection({ uri: url });
  const [c] = await conn.query("INSERT INTO commodities (name, price_cents) VALUES ('bench', 100)");
  const [a] = await conn.query(
    `INSERT INTO activities (name, commodity_id, price_cents, start_at, end_at, limit_per_user, payment_timeout_seconds)
     VALUES ('bench', ?, 100, UTC_TIMESTAMP(3), UTC_TIMESTAMP(3) + INTERVAL 1 HOUR, 1, 300)`,
    [(c as { insertId: number }).insertId],
  );
  const activityId = String((a as { insertId: number }).insertId);
  await conn.query('INSERT INTO activity_stock (activity_id, stock, available) VALUES (?, 100000000, 100000000)', [activityId]);
  await conn.end();

  let next = 1n;
  const message = (): ReservationMessage => {
    const id = next++;
    return { orderId: String(id), activityId, userId: `u${id}`, requestId: `r${id}`, quantity: 1, unitPriceCents: 100, reservedAtMs: Date.now() };
  };
  /** `workers` concurrent loops (as several order workers would run, one per partition) on one activity. */
  const measure = (batchSize: number, workers = 1) => async () => {
    const end = Date.now() + f.durationSeconds * 1000;
    const started = Date.now();
    let done = 0;
    const worker = async () => {
      while (Date.now() < end) {
        const batch = Array.from({ length: batchSize }, message);
        await persistActivityBatch(db, activityId, batch);
        done += batch.length;
      }
    };
    await Promise.all(Array.from({ length: workers }, worker));
    return { opsPerSec: (done * 1000) / (Date.now() - started) };
  };
  figures.push(await medianOf('worker: one transaction per batch of 500', f.runs, measure(500)));
  figures.push(await medianOf('baseline: one transaction per order', f.runs, measure(1)));
  // Issue #11: orders of one hot activity spread over partitions, so several workers write the
  // same activity_stock row at once. Do they queue on its row lock?
  figures.push(await medianOf('2 workers on the same activity, batches of 500', f.runs, measure(500, 2)));
  figures.push(await medianOf('4 workers on the same activity, batches of 500', f.runs, measure(500, 4)));
  print('Order persistence (orders/s into MySQL)', figures, [
    ['batch / one-per-order (target ≥ 10)', 'worker: one transaction per batch of 500', 'baseline: one transaction per order'],
    ['2 workers / 1 worker, one stock row', '2 workers on the same activity, batches of 500', 'worker: one transaction per batch of 500'],
    ['4 workers / 1 worker, one stock row', '4 workers on the same activity, batches of 500', 'worker: one transaction per batch of 500'],
  ], 'one process (no HTTP, no load generator) against MariaDB, unpinned');
} finally {
  await db.destroy().catch(() => pool.end());
  const conn = await createConnection({ uri: server });
  await conn.query(`DROP DATABASE IF EXISTS \`${database}\``);
  await conn.end();
}
