/**
 * Order persistence: the worker's way (one MySQL transaction per batch of up to 500 reservations
 * of an activity, `persistActivityBatch` as the worker calls it) versus one transaction per order
 * (the same code with batches of 1), and several workers on one hot activity, its stock on one
 * row and over slots. Kafka is left out on purpose: every side gets its messages from memory, so
 * the ratios are what batching and slots buy in MySQL.
 * `node bench/persistence.ts [--smoke] [--runs N] [--duration S]`
 */
import { randomBytes } from 'node:crypto';
import { createConnection } from 'mysql2/promise';
import { createDb } from '../src/db/client.ts';
import { migrate } from '../src/db/migrate.ts';
import type { ReservationMessage } from '../src/domain/order.ts';
import { slotRows } from '../src/db/repositories/stock.ts';
import { stockSlots } from '../src/domain/activity.ts';
import { persistActivityBatch } from '../src/purchase/order-persister.ts';
import { type Figure, flags, medianOf, print } from './lib.ts';

const f = flags(
  'bench/persistence',
  `usage: node_modules/.bin/node bench/persistence.ts [--smoke] [--runs N] [--duration SECONDS]

Order persistence: the worker's way (one MySQL transaction per batch of up to 500 reservations of an
activity) against one transaction per order; then 1, 2 and 4 concurrent workers on one hot activity,
its stock on one activity_stock row and split over 4 slots (the default for a big sale). Kafka is
left out (messages come from memory), so the ratios are what batching and slots buy in MySQL. Uses
its own database, dropped afterwards; --connections is accepted and unused. A benchmark, not a test.`,
);
const server = (process.env.SECKILL_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/seckill').replace(/\/[^/]*$/, '');
const database = `seckill_bench_${randomBytes(4).toString('hex')}`;
const url = `${server}/${database}`;
await migrate(url);
const { db, pool } = createDb(url);
const figures: Figure[] = [];
const SLOTS = stockSlots(Number.MAX_SAFE_INTEGER);
try {
  const conn = await createConnection({ uri: url });
  const [c] = await conn.query("INSERT INTO commodities (name, price_cents) VALUES ('bench', 100)");
  /** An activity with 100 M units on `slots` stock rows; resolves with its id. */
  const activity = async (slots: number) => {
    const [a] = await conn.query(
      `INSERT INTO activities (name, commodity_id, price_cents, start_at, end_at, limit_per_user, payment_timeout_seconds)
       VALUES ('bench', ?, 100, UTC_TIMESTAMP(3), UTC_TIMESTAMP(3) + INTERVAL 1 HOUR, 1, 300)`,
      [(c as { insertId: number }).insertId],
    );
    const id = String((a as { insertId: number }).insertId);
    await db.insertInto('activity_stock').values(slotRows(id, 100_000_000, slots)).execute();
    return id;
  };
  const oneRow = await activity(1);
  const split = await activity(SLOTS);
  await conn.end();

  let next = 1n;
  const message = (activityId: string): ReservationMessage => {
    const id = next++;
    return { orderId: String(id), activityId, userId: `u${id}`, requestId: `r${id}`, quantity: 1, unitPriceCents: 100, reservedAtMs: Date.now() };
  };
  /** `workers` concurrent loops (as several order workers would run, one per partition) on one activity. */
  const measure = (activityId: string, batchSize: number, workers = 1) => async () => {
    const end = Date.now() + f.durationSeconds * 1000;
    const started = Date.now();
    let done = 0;
    const worker = async () => {
      while (Date.now() < end) {
        const batch = Array.from({ length: batchSize }, () => message(activityId));
        await persistActivityBatch(db, activityId, batch);
        done += batch.length;
      }
    };
    await Promise.all(Array.from({ length: workers }, worker));
    return { opsPerSec: (done * 1000) / (Date.now() - started) };
  };
  figures.push(await medianOf('worker: one transaction per batch of 500', f.runs, measure(oneRow, 500)));
  figures.push(await medianOf('baseline: one transaction per order', f.runs, measure(oneRow, 1)));
  // Orders of one hot activity spread over partitions, so several workers write it at once: on one
  // stock row they queue on its lock; split over slots, each locks its own.
  for (const workers of [2, 4]) figures.push(await medianOf(`${workers} workers, one stock row`, f.runs, measure(oneRow, 500, workers)));
  for (const workers of [1, 2, 4]) figures.push(await medianOf(`${workers} worker${workers > 1 ? 's' : ''}, ${SLOTS} stock slots`, f.runs, measure(split, 500, workers)));
  print('Order persistence (orders/s into MySQL, batches of 500)', figures, [
    ['batch / one-per-order (target ≥ 10)', 'worker: one transaction per batch of 500', 'baseline: one transaction per order'],
    ['2 workers / 1 worker, one stock row', '2 workers, one stock row', 'worker: one transaction per batch of 500'],
    ['4 workers / 1 worker, one stock row', '4 workers, one stock row', 'worker: one transaction per batch of 500'],
    [`${SLOTS} slots / one row, 1 worker`, `1 worker, ${SLOTS} stock slots`, 'worker: one transaction per batch of 500'],
    [`2 workers / 1 worker, ${SLOTS} slots`, `2 workers, ${SLOTS} stock slots`, `1 worker, ${SLOTS} stock slots`],
    [`4 workers / 1 worker, ${SLOTS} slots`, `4 workers, ${SLOTS} stock slots`, `1 worker, ${SLOTS} stock slots`],
  ], 'one process (no HTTP, no load generator) against MariaDB, unpinned');
} finally {
  await db.destroy().catch(() => pool.end());
  const conn = await createConnection({ uri: server });
  await conn.query(`DROP DATABASE IF EXISTS \`${database}\``);
  await conn.end();
}
