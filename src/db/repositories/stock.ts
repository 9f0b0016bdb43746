/**
 * An activity's units in MySQL, the truth: `activity_stock` (available / locked / sold, split over
 * one or more slots per activity, each row CHECKed never to go below zero and to add up to its own
 * `stock`, so their sum can neither) and `user_quota` (units each user holds in non-cancelled
 * orders). Every move is a conditional UPDATE that cannot take a column below zero, so a bug in the
 * bookkeeping above it still cannot oversell.
 *
 * Locks: an order worker locks one slot (or, when its slot runs short and another is busy, every
 * slot); a cancellation or payment updates the slot its order's units sit in; whoever needs the whole
 * picture (the Redis loads, stats) locks every slot, in slot order, so it waits for every writer.
 */
import { sql } from 'kysely';
import type { Db } from '../client.ts';

export interface StockRow {
  stock: number;
  available: number;
  locked: number;
  sold: number;
}

export interface SlotRow extends StockRow {
  slot: number;
}

const SLOT_COLUMNS = ['slot', 'stock', 'available', 'locked', 'sold'] as const;

const toSlot = (r: { slot: number; stock: number; available: number; locked: number; sold: number }): SlotRow => ({
  slot: Number(r.slot),
  stock: Number(r.stock),
  available: Number(r.available),
  locked: Number(r.locked),
  sold: Number(r.sold),
});

function sum(rows: StockRow[]): StockRow | undefined {
  if (rows.length === 0) return undefined;
  return rows.reduce((t, r) => ({ stock: t.stock + r.stock, available: t.available + r.available, locked: t.locked + r.locked, sold: t.sold + r.sold }), {
    stock: 0,
    available: 0,
    locked: 0,
    sold: 0,
  });
}

/** The rows of a new activity: `stock` spread as evenly as can be over `slots` slots, all available. */
export function slotRows(activityId: string, stock: number, slots: number) {
  return Array.from({ length: slots }, (_, slot) => {
    const units = Math.floor(stock / slots) + (slot < stock % slots ? 1 : 0);
    return { activity_id: activityId, slot, stock: units, available: units };
  });
}

/** The activity's stock, its slots summed, without a lock (a snapshot). */
export async function findStock(db: Db, activityId: string): Promise<StockRow | undefined> {
  return sum(await listSlots(db, activityId));
}

/** Every slot of the activity, without a lock (a snapshot), in slot order. */
export async function listSlots(db: Db, activityId: string): Promise<SlotRow[]> {
  const rows = await db.selectFrom('activity_stock').select(SLOT_COLUMNS).where('activity_id', '=', activityId).orderBy('slot').execute();
  return rows.map(toSlot);
}

/** Every slot locked FOR UPDATE, in slot order (so two such lockers never deadlock), until the caller's transaction ends. */
export async function lockSlots(db: Db, activityId: string): Promise<SlotRow[]> {
  const rows = await db.selectFrom('activity_stock').select(SLOT_COLUMNS).where('activity_id', '=', activityId).orderBy('slot').forUpdate().execute();
  return rows.map(toSlot);
}

/** The activity's stock, every slot locked (see lockSlots), summed. */
export async function lockStock(db: Db, activityId: string): Promise<StockRow | undefined> {
  return sum(await lockSlots(db, activityId));
}

/**
 * One slot locked FOR UPDATE; with `skipLocked`, undefined at once when another transaction holds it
 * (a worker that already holds a slot never waits for a second one, so workers cannot deadlock).
 */
export async function lockSlot(db: Db, activityId: string, slot: number, skipLocked = false): Promise<SlotRow | undefined> {
  let query = db.selectFrom('activity_stock').select(SLOT_COLUMNS).where('activity_id', '=', activityId).where('slot', '=', slot).forUpdate();
  if (skipLocked) query = query.skipLocked();
  const row = await query.executeTakeFirst();
  return row && toSlot(row);
}

/**
 * Moves `units` available units (and as much `stock`) from one slot to another, in one statement:
 * the activity's total cannot change, and the donor's CHECK refuses to go below zero.
 */
export async function moveAvailable(db: Db, activityId: string, from: number, to: number, units: number): Promise<void> {
  const delta = sql<number>`CASE WHEN slot = ${to} THEN ${units} ELSE ${-units} END`;
  const updated = await db
    .updateTable('activity_stock')
    .set({ stock: sql`stock + ${delta}`, available: sql`available + ${delta}` })
    .where('activity_id', '=', activityId)
    .where('slot', 'in', [from, to])
    .executeTakeFirst();
  if (Number(updated.numUpdatedRows) !== 2) throw new Error(`activity ${activityId} has no slot ${from} or ${to}`);
}

type StockColumn = 'available' | 'locked' | 'sold';

/** Moves `units` between two columns of a slot, only if `from` holds that many: false when it does not. */
async function moveUnits(db: Db, activityId: string, slot: number, from: StockColumn, to: StockColumn, units: number): Promise<boolean> {
  const updated = await db
    .updateTable('activity_stock')
    .set({ [from]: sql`${sql.ref(from)} - ${units}`, [to]: sql`${sql.ref(to)} + ${units}` })
    .where('activity_id', '=', activityId)
    .where('slot', '=', slot)
    .where(from, '>=', units)
    .executeTakeFirst();
  return Number(updated.numUpdatedRows) === 1;
}

/** available → locked in a slot: a persisted order awaits payment. */
export const lockUnits = (db: Db, activityId: string, slot: number, units: number) => moveUnits(db, activityId, slot, 'available', 'locked', units);

/** locked → available in the order's slot: a cancelled order's units go back on sale. */
export const unlockUnits = (db: Db, activityId: string, slot: number, units: number) => moveUnits(db, activityId, slot, 'locked', 'available', units);

/** locked → sold in the order's slot: a paid order. */
export const sellUnits = (db: Db, activityId: string, slot: number, units: number) => moveUnits(db, activityId, slot, 'locked', 'sold', units);

/** Stock of the activities not yet ended, latest start first (the stock gauges). */
export async function listOpenStock(
  db: Db,
  now: Date,
  limit: number,
): Promise<Array<StockRow & { activityId: string; name: string; startAt: Date; endAt: Date }>> {
  const stock = db
    .selectFrom('activity_stock')
    .select((eb) => ['activity_id', eb.fn.sum<number>('stock').as('stock'), eb.fn.sum<number>('available').as('available'), eb.fn.sum<number>('locked').as('locked'), eb.fn.sum<number>('sold').as('sold')])
    .groupBy('activity_id')
    .as('s');
  const rows = await db
    .selectFrom('activities')
    .innerJoin(stock, 's.activity_id', 'activities.id')
    .select(['activities.id', 'activities.name', 'activities.start_at', 'activities.end_at', 's.stock', 's.available', 's.locked', 's.sold'])
    .where('activities.end_at', '>', now)
    .orderBy('activities.start_at', 'desc')
    .limit(limit)
    .execute();
  return rows.map((r) => ({
    activityId: String(r.id),
    name: r.name,
    startAt: r.start_at,
    endAt: r.end_at,
    stock: Number(r.stock),
    available: Number(r.available),
    locked: Number(r.locked),
    sold: Number(r.sold),
  }));
}

/**
 * Gives each of `userIds` a quota row (0 units) if they have none, in its own short statement before
 * the transaction that locks them. When several workers persist one activity at once (one stock
 * slot each), a locking read of a missing row takes a gap lock, and two such transactions inserting
 * into each other's gaps deadlock; once every row exists, the locks are plain row locks taken in
 * key order.
 */
export async function ensureQuotaRows(db: Db, activityId: string, userIds: string[]): Promise<void> {
  if (userIds.length === 0) return;
  await db
    .insertInto('user_quota')
    .ignore()
    .values([...userIds].sort().map((user_id) => ({ activity_id: activityId, user_id, quantity: 0 })))
    .execute();
}

/** Units each of `userIds` holds in the activity, their rows locked FOR UPDATE (absent: none). */
export async function lockQuotas(db: Db, activityId: string, userIds: string[]): Promise<Map<string, number>> {
  const rows = await db
    .selectFrom('user_quota')
    .select(['user_id', 'quantity'])
    .where('activity_id', '=', activityId)
    .where('user_id', 'in', userIds)
    .forUpdate()
    .execute();
  return new Map(rows.map((r) => [r.user_id, r.quantity]));
}

/** Sets these users' unit counts in the activity (insert or overwrite). */
export async function saveQuotas(db: Db, activityId: string, quotas: Array<[userId: string, units: number]>): Promise<void> {
  if (quotas.length === 0) return;
  await db
    .insertInto('user_quota')
    .values(quotas.map(([user_id, quantity]) => ({ activity_id: activityId, user_id, quantity })))
    .onDuplicateKeyUpdate({ quantity: sql`VALUES(quantity)` })
    .execute();
}

/** A cancelled order's units no longer count against its user's limit (never below zero). */
export async function freeQuota(db: Db, activityId: string, userId: string, units: number): Promise<void> {
  await db
    .updateTable('user_quota')
    .set({ quantity: sql`GREATEST(quantity - ${units}, 0)` })
    .where('activity_id', '=', activityId)
    .where('user_id', '=', userId)
    .execute();
}

/** Every user's unit count in the activity (what the gate must remember after Redis forgot it). */
export async function listQuotas(db: Db, activityId: string): Promise<Array<{ userId: string; quantity: number }>> {
  return db.selectFrom('user_quota').select(['user_id as userId', 'quantity']).where('activity_id', '=', activityId).where('quantity', '>', 0).execute();
}
