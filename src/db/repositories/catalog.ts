/** Commodities and activities in MySQL. */
import { type RawBuilder, sql } from 'kysely';
import { type Activity, type AntiBot, type Commodity, stockSlots } from '../../domain/activity.ts';
import type { WaitingRoomMode, WaitingRoomSettings } from '../../domain/waiting-room.ts';
import type { Db } from '../client.ts';
import type { ActivityRow, CommodityRow } from '../schema.ts';
import { slotRows } from './stock.ts';

export function toCommodity(row: CommodityRow): Commodity {
  return {
    id: String(row.id),
    name: row.name,
    description: row.description,
    priceCents: Number(row.price_cents),
    category: row.category,
  };
}

type ActivityJoined = ActivityRow & {
  stock: number | null;
  c_name: string;
  c_description: string | null;
  c_price_cents: number;
  c_category: string | null;
};

export function toActivity(row: ActivityJoined): Activity {
  return {
    id: String(row.id),
    name: row.name,
    commodityId: String(row.commodity_id),
    priceCents: Number(row.price_cents),
    stock: Number(row.stock),
    startAt: row.start_at,
    endAt: row.end_at,
    limitPerUser: row.limit_per_user,
    paymentTimeoutSeconds: row.payment_timeout_seconds,
    antiBot: row.anti_bot as AntiBot,
    challengeDifficulty: row.challenge_difficulty,
    segments: row.segments,
    shards: row.shards,
    paused: row.paused_at !== null,
    waitingRoom: {
      mode: row.wr_mode as WaitingRoomMode,
      prequeueSeconds: row.wr_prequeue_seconds,
      admitPerSecond: row.wr_admit_per_second,
      passSeconds: row.wr_pass_seconds,
      keepSeconds: row.wr_keep_seconds,
      paused: Number(row.wr_paused) === 1,
    },
    commodity: {
      id: String(row.commodity_id),
      name: row.c_name,
      description: row.c_description,
      priceCents: Number(row.c_price_cents),
      category: row.c_category,
    },
  };
}

function selectActivities(db: Db) {
  return db
    .selectFrom('activities')
    .innerJoin('commodities', 'commodities.id', 'activities.commodity_id')
    .selectAll('activities')
    .select((eb) => [
      // The stock is split over slots (see stock.ts): the activity's is their sum.
      eb.selectFrom('activity_stock').select((s) => s.fn.sum<number>('activity_stock.stock').as('units')).whereRef('activity_stock.activity_id', '=', 'activities.id').as('stock'),
      'commodities.name as c_name',
      'commodities.description as c_description',
      'commodities.price_cents as c_price_cents',
      'commodities.category as c_category',
    ]);
}

export interface NewCommodity {
  name: string;
  description: string | null;
  priceCents: number;
  category: string | null;
}

export type NewActivity = Omit<Activity, 'id' | 'commodity' | 'paused'>;

export async function insertCommodity(db: Db, commodity: NewCommodity): Promise<Commodity> {
  const result = await db
    .insertInto('commodities')
    .values({
      name: commodity.name,
      description: commodity.description,
      price_cents: commodity.priceCents,
      category: commodity.category,
    })
    .executeTakeFirstOrThrow();
  const row = await db.selectFrom('commodities').selectAll().where('id', '=', String(result.insertId)).executeTakeFirstOrThrow();
  return toCommodity(row);
}

/** The latest commodities, newest first (the console's picker). */
export async function listCommodities(db: Db, limit = 100): Promise<Commodity[]> {
  const rows = await db.selectFrom('commodities').selectAll().orderBy('id', 'desc').limit(limit).execute();
  return rows.map(toCommodity);
}

export async function findCommodity(db: Db, id: string): Promise<Commodity | undefined> {
  const row = await db.selectFrom('commodities').selectAll().where('id', '=', id).executeTakeFirst();
  return row && toCommodity(row);
}

/** Inserts the activity and its stock rows (all units available, spread over its slots) in one transaction. */
export async function insertActivity(db: Db, activity: NewActivity): Promise<Activity> {
  const id = await db.transaction().execute(async (trx) => {
    const result = await trx
      .insertInto('activities')
      .values({
        name: activity.name,
        commodity_id: activity.commodityId,
        price_cents: activity.priceCents,
        start_at: activity.startAt,
        end_at: activity.endAt,
        limit_per_user: activity.limitPerUser,
        payment_timeout_seconds: activity.paymentTimeoutSeconds,
        anti_bot: activity.antiBot,
        challenge_difficulty: activity.challengeDifficulty,
        segments: activity.segments,
        shards: activity.shards,
        ...waitingRoomColumns(activity.waitingRoom),
      })
      .executeTakeFirstOrThrow();
    const activityId = String(result.insertId);
    await trx.insertInto('activity_stock').values(slotRows(activityId, activity.stock, stockSlots(activity.stock))).execute();
    return activityId;
  });
  const found = await findActivity(db, id);
  if (!found) throw new Error(`activity ${id} vanished after insert`);
  return found;
}

export async function findActivity(db: Db, id: string): Promise<Activity | undefined> {
  const row = await selectActivities(db).where('activities.id', '=', id).executeTakeFirst();
  return row && toActivity(row);
}

export async function listActivities(db: Db, limit = 100): Promise<Activity[]> {
  const rows = await selectActivities(db).orderBy('activities.id', 'desc').limit(limit).execute();
  return rows.map(toActivity);
}

/** Activities not yet ended: the ones whose stock must be in Redis. */
export async function listOpenActivities(db: Db, now: Date): Promise<Activity[]> {
  const rows = await selectActivities(db).where('activities.end_at', '>', now).execute();
  return rows.map(toActivity);
}

export interface ActivityChanges {
  name?: string;
  priceCents?: number;
  startAt?: Date;
  endAt?: Date;
  /** true: paused from now (kept if already paused); false: resumed. */
  paused?: boolean;
  waitingRoom?: WaitingRoomSettings;
}

function waitingRoomColumns(settings: WaitingRoomSettings) {
  return {
    wr_mode: settings.mode,
    wr_prequeue_seconds: settings.prequeueSeconds,
    wr_admit_per_second: settings.admitPerSecond,
    wr_pass_seconds: settings.passSeconds,
    wr_keep_seconds: settings.keepSeconds,
    wr_paused: settings.paused ? 1 : 0,
  };
}

/** Applies an admin's edit; false when the activity does not exist. */
export async function updateActivity(db: Db, id: string, changes: ActivityChanges): Promise<boolean> {
  const set: { name?: string; price_cents?: number; start_at?: Date; end_at?: Date; paused_at?: RawBuilder<Date> | null } & Partial<
    ReturnType<typeof waitingRoomColumns>
  > = {};
  if (changes.name !== undefined) set.name = changes.name;
  if (changes.priceCents !== undefined) set.price_cents = changes.priceCents;
  if (changes.startAt !== undefined) set.start_at = changes.startAt;
  if (changes.endAt !== undefined) set.end_at = changes.endAt;
  // A second pause keeps the first one's time.
  if (changes.paused !== undefined) set.paused_at = changes.paused ? sql<Date>`COALESCE(paused_at, NOW(3))` : null;
  if (changes.waitingRoom !== undefined) Object.assign(set, waitingRoomColumns(changes.waitingRoom));
  if (Object.keys(set).length === 0) return (await findActivity(db, id)) !== undefined;
  const result = await db.updateTable('activities').set(set).where('id', '=', id).executeTakeFirst();
  // MySQL reports 0 changed rows for an edit that changes nothing: existence is what matters.
  return Number(result.numUpdatedRows) > 0 || (await findActivity(db, id)) !== undefined;
}

/** What the order worker and a rebuild need of an activity, read from its own row (no join). */
export interface SaleRules {
  limitPerUser: number;
  paymentTimeoutSeconds: number;
  endAt: Date;
}

export async function findSaleRules(db: Db, activityId: string): Promise<SaleRules | undefined> {
  const row = await db
    .selectFrom('activities')
    .select(['limit_per_user', 'payment_timeout_seconds', 'end_at'])
    .where('id', '=', activityId)
    .executeTakeFirst();
  return row && { limitPerUser: row.limit_per_user, paymentTimeoutSeconds: row.payment_timeout_seconds, endAt: row.end_at };
}
