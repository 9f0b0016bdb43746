/**
 * The five promises of docs/api.md, checked straight against MySQL (the truth) and Redis (the gate),
 * never through the service's own endpoints: a bug in the service must not be able to hide
 * itself behind its own stats. The demo calls this at the end of a run; test/demo calls it on a
 * database seeded with an oversell to prove a violation is caught.
 */
import { type Connection, createConnection, type RowDataPacket } from 'mysql2/promise';
import type { RedisClient } from '../redis/client.ts';
import { createKeys } from '../redis/keys.ts';
import { closeRedis, connectRedis, getEach, scanEach } from './redis-nodes.ts';

export interface AcceptedOrder {
  userId: string;
  requestId: string;
}

export interface PromiseInput {
  /** `mysql://…/<database>` of the service under check. */
  mysqlUrl: string;
  /** One `redis://` node, or a comma-separated list of a cluster's nodes. */
  redisUrl: string;
  redisPrefix: string;
  activityId: string;
  /** Every distinct order id answered 202, with who asked for it. */
  accepted: ReadonlyMap<string, AcceptedOrder>;
  /** Times one (user, requestId) was answered two different order ids (must be 0). */
  idempotencyMismatches?: number;
  /**
   * Promise 2 applies only when the crowd could buy everything (buyers × limit ≥ units, no faults);
   * undefined skips it. Checked on the state as it is when the checker runs, after the queue drained.
   */
  expectFullySold?: boolean;
  /** Promise 5 is checked only when the payment phase ran. */
  payment?: {
    /** Orders the demo deliberately left unpaid: each must end CANCELLED (PAYMENT_TIMEOUT) in time. */
    unpaid: readonly string[];
    /** Orders seen PAID at some point: none may be CANCELLED afterwards. */
    paid: readonly string[];
    /** How late past `expires_at` a timeout may land (a few reaper intervals). */
    graceMs: number;
  };
}

export interface PromiseResult {
  id: 1 | 2 | 3 | 4 | 5;
  title: string;
  /** false when the promise could not be checked in this run (e.g. no payment phase). */
  checked: boolean;
  held: boolean;
  violations: string[];
  numbers: Record<string, number | string | boolean | null>;
}

const TITLES: Record<PromiseResult['id'], string> = {
  1: 'Never oversell',
  2: 'Never undersell without cause',
  3: 'A user never holds more than limitPerUser units',
  4: 'Every 202 order id reaches MySQL, none created twice',
  5: 'Unpaid orders expire and their units go back; no PAID order is cancelled',
};

type Row = RowDataPacket & Record<string, unknown>;

async function rows(conn: Connection, sql: string, params: unknown[] = []): Promise<Row[]> {
  const [result] = await conn.query<Row[]>(sql, params);
  return result;
}

const num = (value: unknown): number => (value === null || value === undefined ? 0 : Number(value));

function result(id: PromiseResult['id'], violations: string[], numbers: PromiseResult['numbers'], checked = true): PromiseResult {
  return { id, title: TITLES[id], checked, held: violations.length === 0, violations, numbers };
}

export async function checkPromises(input: PromiseInput): Promise<PromiseResult[]> {
  const conn = await createConnection({ uri: input.mysqlUrl, timezone: 'Z', supportBigNumbers: true, bigNumberStrings: true });
  let redis: RedisClient | undefined;
  try {
    await conn.query("SET time_zone = '+00:00'");
    redis = await connectRedis(input.redisUrl);
    return await checkWith(conn, redis, input);
  } finally {
    await conn.end().catch(() => {});
    if (redis) await closeRedis(redis);
  }
}

async function checkWith(conn: Connection, redis: RedisClient, input: PromiseInput): Promise<PromiseResult[]> {
  const activityId = input.activityId;
  const [activity] = await rows(conn, 'SELECT * FROM activities WHERE id = ?', [activityId]);
  if (!activity) throw new Error(`activity ${activityId} is not in MySQL`);
  const limitPerUser = num(activity['limit_per_user']);
  // Key names from the service's own module, so the checker reads what the service writes; the
  // stock may be split over several shards, each with its own hash tag.
  const shardCount = Math.max(1, num(activity['shards'] ?? 1));
  const names = createKeys(input.redisPrefix);
  const shards = Array.from({ length: shardCount }, (_, i) => names.shard(activityId, shardCount, i));
  // The stock is split over slots, each CHECKed on its own: the activity's is their sum.
  const [stockRow] = await rows(
    conn,
    'SELECT SUM(stock) AS stock, SUM(available) AS available, SUM(locked) AS locked, SUM(sold) AS sold FROM activity_stock WHERE activity_id = ? GROUP BY activity_id',
    [activityId],
  );
  const stock = { stock: num(stockRow?.['stock']), available: num(stockRow?.['available']), locked: num(stockRow?.['locked']), sold: num(stockRow?.['sold']) };
  const byStatus = new Map<string, number>();
  for (const r of await rows(conn, 'SELECT status, COUNT(*) AS n, SUM(quantity) AS units FROM orders WHERE activity_id = ? GROUP BY status', [activityId])) {
    byStatus.set(String(r['status']), num(r['units']));
    byStatus.set(`#${String(r['status'])}`, num(r['n']));
  }
  const units = (status: string) => byStatus.get(status) ?? 0;
  const count = (status: string) => byStatus.get(`#${status}`) ?? 0;
  const remainingTexts = await Promise.all(shards.map((k) => redis.get(k.remaining)));
  const redisRemaining = remainingTexts.every((t) => t === null) ? null : remainingTexts.reduce((sum, t) => sum + Number(t ?? 0), 0);
  const inFlight = (await Promise.all(shards.map((k) => redis.hlen(k.reservations)))).reduce((a, b) => a + b, 0);
  const results: PromiseResult[] = [];

  // 1. Never oversell.
  {
    const v: string[] = [];
    const { stock: total, available, locked, sold } = stock;
    if (!stockRow) v.push('no activity_stock row');
    if (available < 0 || locked < 0 || sold < 0) v.push(`negative column: available=${available} locked=${locked} sold=${sold}`);
    if (available + locked + sold !== total) v.push(`available+locked+sold = ${available + locked + sold} ≠ stock ${total}`);
    // The row could balance while the orders disagree with it: count the orders themselves.
    const pending = units('PENDING_PAYMENT');
    const paid = units('PAID');
    if (pending + paid > total) v.push(`orders hold ${pending + paid} units (PENDING_PAYMENT+PAID) > stock ${total}`);
    if (pending !== locked) v.push(`PENDING_PAYMENT orders hold ${pending} units but locked = ${locked}`);
    if (paid !== sold) v.push(`PAID orders hold ${paid} units but sold = ${sold}`);
    // What was ever on sale: the stock plus every unit that came back — cancelled orders, and
    // FAILED ones whose units were returned. A FAILED OUT_OF_STOCK order is a 202 that Redis let
    // through although MySQL had no unit left: MySQL guarded the truth, but the 202 was one too many.
    const [failed] = await rows(
      conn,
      "SELECT COALESCE(SUM(CASE WHEN reason = 'OUT_OF_STOCK' THEN quantity END), 0) AS short, COALESCE(SUM(CASE WHEN reason <> 'OUT_OF_STOCK' OR reason IS NULL THEN quantity END), 0) AS returned FROM orders WHERE activity_id = ? AND status = 'FAILED'",
      [activityId],
    );
    const onSale = total + units('CANCELLED') + num(failed?.['returned']);
    if (input.accepted.size > onSale) v.push(`${input.accepted.size} distinct 202 order ids > ${onSale} units ever on sale`);
    if (redisRemaining !== null && redisRemaining < 0) v.push(`Redis remaining is negative (${redisRemaining})`);
    // Redis may lag MySQL (units released in MySQL come back to Redis afterwards) but must never
    // offer more than MySQL can still honour once in-flight reservations are counted.
    if (redisRemaining !== null && redisRemaining > available) {
      v.push(`Redis offers ${redisRemaining} units but MySQL has only ${available} available`);
    }
    results.push(
      result(1, v, {
        stock: total,
        available,
        locked,
        sold,
        pendingUnits: pending,
        paidUnits: paid,
        cancelledUnits: units('CANCELLED'),
        failedOutOfStockUnits: num(failed?.['short']),
        failedReturnedUnits: num(failed?.['returned']),
        distinctAccepted: input.accepted.size,
        unitsEverOnSale: onSale,
        redisRemaining,
        redisInFlight: inFlight,
      }),
    );
  }

  // 2. Never undersell without cause.
  {
    const v: string[] = [];
    const held = stock.locked + stock.sold;
    if (input.expectFullySold) {
      if (held !== stock.stock) v.push(`only ${held} of ${stock.stock} units ended up in orders (available=${stock.available})`);
      if (inFlight > 0) v.push(`${inFlight} reservations still in flight: the queue has not drained`);
    }
    results.push(
      result(2, v, { inOrders: held, stock: stock.stock, available: stock.available, redisRemaining, redisInFlight: inFlight }, input.expectFullySold !== undefined),
    );
  }

  // 3. Per-user limit, in MySQL (orders and quota table) and in Redis.
  {
    const v: string[] = [];
    const over = await rows(
      conn,
      `SELECT user_id, SUM(quantity) AS units FROM orders
        WHERE activity_id = ? AND status NOT IN ('CANCELLED', 'FAILED')
        GROUP BY user_id HAVING SUM(quantity) > ? LIMIT 20`,
      [activityId, limitPerUser],
    );
    for (const r of over) v.push(`user ${String(r['user_id'])} holds ${num(r['units'])} units in orders > limit ${limitPerUser}`);
    const quota = await rows(conn, 'SELECT user_id, quantity FROM user_quota WHERE activity_id = ? AND quantity > ? LIMIT 20', [activityId, limitPerUser]);
    for (const r of quota) v.push(`user_quota of ${String(r['user_id'])} is ${num(r['quantity'])} > limit ${limitPerUser}`);
    // A buyer's count lives on their home shard; summed over shards anyway, so a count left on
    // another shard (a bug) still adds up against the limit.
    const perUser = new Map<string, number>();
    let usersCheckedInRedis = 0;
    for (const keys of shards) {
      await scanEach(redis, keys.user('*'), async (node, chunk) => {
        usersCheckedInRedis += chunk.length;
        (await getEach(node, chunk)).forEach((value, j) => {
          const key = chunk[j]!;
          const userId = key.slice(key.lastIndexOf('}:u:') + 4);
          perUser.set(userId, (perUser.get(userId) ?? 0) + Number(value ?? 0));
        });
      });
    }
    let maxRedis = 0;
    for (const [userId, held] of perUser) {
      maxRedis = Math.max(maxRedis, held);
      if (held > limitPerUser && v.length < 40) v.push(`Redis counts ${held} units for user ${userId} > limit ${limitPerUser}`);
    }
    const [maxRow] = await rows(
      conn,
      `SELECT COALESCE(MAX(units), 0) AS m FROM (SELECT SUM(quantity) AS units FROM orders
        WHERE activity_id = ? AND status NOT IN ('CANCELLED', 'FAILED') GROUP BY user_id) t`,
      [activityId],
    );
    results.push(result(3, v, { limitPerUser, redisShards: shardCount, maxUnitsPerUserMysql: num(maxRow?.['m']), maxUnitsPerUserRedis: maxRedis, usersCheckedInRedis }));
  }

  // 4. Every 202 reaches MySQL (as an order or FAILED); none created twice.
  {
    const v: string[] = [];
    const inDb = new Map<string, { userId: string; requestId: string; status: string }>();
    for (const r of await rows(conn, 'SELECT id, user_id, request_id, status FROM orders WHERE activity_id = ?', [activityId])) {
      inDb.set(String(r['id']), { userId: String(r['user_id']), requestId: String(r['request_id']), status: String(r['status']) });
    }
    let missing = 0;
    let wrongOwner = 0;
    for (const [orderId, a] of input.accepted) {
      const row = inDb.get(orderId);
      if (!row) {
        missing++;
        if (missing <= 10) v.push(`202 order ${orderId} (user ${a.userId}) is not in MySQL`);
      } else if (row.userId !== a.userId || row.requestId !== a.requestId) {
        wrongOwner++;
        if (wrongOwner <= 10) v.push(`order ${orderId} belongs to ${row.userId}/${row.requestId} in MySQL, 202 went to ${a.userId}/${a.requestId}`);
      }
    }
    if (missing > 10) v.push(`… ${missing} missing in all`);
    const dup = await rows(
      conn,
      'SELECT user_id, request_id, COUNT(*) AS n FROM orders WHERE activity_id = ? AND duplicate_of = 0 GROUP BY user_id, request_id HAVING COUNT(*) > 1 LIMIT 10',
      [activityId],
    );
    for (const r of dup) v.push(`request ${String(r['user_id'])}/${String(r['request_id'])} became ${num(r['n'])} orders`);
    const mismatches = input.idempotencyMismatches ?? 0;
    if (mismatches > 0) v.push(`${mismatches} replays of a requestId were answered a different order id`);
    // Orders in MySQL that no client was told about are not a broken promise, but worth a number.
    let unseen = 0;
    for (const id of inDb.keys()) if (!input.accepted.has(id)) unseen++;
    results.push(
      result(4, v, {
        accepted: input.accepted.size,
        inMysql: inDb.size,
        missing,
        failed: count('FAILED'),
        duplicates: dup.length,
        idempotencyMismatches: mismatches,
        ordersNotSeenAs202: unseen,
        redisInFlight: inFlight,
      }),
    );
  }

  // 5. Expiry and late payments.
  {
    const v: string[] = [];
    const p = input.payment;
    if (!p) {
      results.push(result(5, [], { reason: 'payment phase did not run' }, false));
    } else {
      const graceSeconds = p.graceMs / 1000;
      const [overdue] = await rows(
        conn,
        `SELECT COUNT(*) AS n FROM orders WHERE activity_id = ? AND status = 'PENDING_PAYMENT'
          AND expires_at < UTC_TIMESTAMP(3) - INTERVAL ? SECOND`,
        [activityId, graceSeconds],
      );
      if (num(overdue?.['n']) > 0) v.push(`${num(overdue?.['n'])} PENDING_PAYMENT orders are past expires_at + ${graceSeconds}s`);
      const statusOf = async (ids: readonly string[]) => {
        const found = new Map<string, Row>();
        for (let i = 0; i < ids.length; i += 1000) {
          const chunk = ids.slice(i, i + 1000);
          if (chunk.length === 0) continue;
          for (const r of await rows(
            conn,
            'SELECT id, status, reason, expires_at, updated_at, TIMESTAMPDIFF(MICROSECOND, expires_at, updated_at) AS late_us FROM orders WHERE id IN (?)',
            [chunk],
          )) {
            found.set(String(r['id']), r);
          }
        }
        return found;
      };
      const unpaid = await statusOf(p.unpaid);
      let expired = 0;
      let maxLateMs = 0;
      for (const id of p.unpaid) {
        const r = unpaid.get(id);
        if (!r) continue; // never persisted: promise 4 reports it
        if (r['status'] === 'CANCELLED' && r['reason'] === 'PAYMENT_TIMEOUT') {
          expired++;
          const lateMs = num(r['late_us']) / 1000;
          maxLateMs = Math.max(maxLateMs, lateMs);
          if (lateMs > p.graceMs && v.length < 20) v.push(`order ${id} expired ${Math.round(lateMs)} ms after expires_at (grace ${p.graceMs} ms)`);
        } else if (r['status'] === 'PENDING_PAYMENT' || r['status'] === 'PAID') {
          if (v.length < 20) v.push(`unpaid order ${id} is ${String(r['status'])}, not expired`);
        }
      }
      const paid = await statusOf(p.paid);
      let paidCancelled = 0;
      for (const id of p.paid) {
        const r = paid.get(id);
        if (r && r['status'] !== 'PAID') {
          paidCancelled++;
          if (paidCancelled <= 10) v.push(`order ${id} was PAID and is now ${String(r['status'])}`);
        }
      }
      // Units of cancelled orders went back: the stock row balances (promise 1) and holds no
      // unit for them, i.e. locked equals what PENDING_PAYMENT orders hold; checked in 1.
      results.push(
        result(5, v, {
          leftUnpaid: p.unpaid.length,
          expiredByTimeout: expired,
          maxExpiryLatenessMs: Math.round(maxLateMs),
          graceMs: p.graceMs,
          overduePending: num(overdue?.['n']),
          seenPaid: p.paid.length,
          paidThenCancelled: paidCancelled,
          cancelledOrders: count('CANCELLED'),
        }),
      );
    }
  }
  return results;
}
