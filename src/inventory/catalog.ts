/** Setting up a sale: commodities and activities, with the stock pre-heated into Redis at once. */
import type { Db } from '../db/client.ts';
import {
  type ActivityChanges,
  findActivity,
  findCommodity,
  insertActivity,
  insertCommodity,
  listActivities,
  listCommodities,
  type NewActivity,
  type NewCommodity,
  updateActivity,
} from '../db/repositories/catalog.ts';
import { type Activity, type AntiBot, type Commodity, defaultSegments, defaultShards } from '../domain/activity.ts';
import { AppError } from '../domain/errors.ts';
import { WAITING_ROOM_OFF, type WaitingRoomSettings } from '../domain/waiting-room.ts';
import type { ActivityCache } from './activity-cache.ts';
import type { Inventory } from './inventory.ts';

export interface ActivityInput {
  name: string;
  commodityId: string | number;
  priceCents: number;
  stock: number;
  startAt: string;
  endAt: string;
  limitPerUser: number;
  paymentTimeoutSeconds: number;
  antiBot: AntiBot;
  challengeDifficulty: number;
  segments?: number;
  shards?: number;
  waitingRoom?: Partial<WaitingRoomSettings>;
}

export interface ActivityUpdate {
  name?: string;
  priceCents?: number;
  endAt?: string;
  waitingRoom?: Partial<WaitingRoomSettings>;
}

/** The settings with `changes` applied; fields not given keep their value (or the default). */
const withWaitingRoom = (current: WaitingRoomSettings, changes: Partial<WaitingRoomSettings> | undefined): WaitingRoomSettings => ({
  ...current,
  ...Object.fromEntries(Object.entries(changes ?? {}).filter(([, value]) => value !== undefined)),
});

function parseTime(field: string, text: string): Date {
  // Only full ISO-8601 timestamps: "2026-11-21" alone would silently mean midnight UTC.
  const ms = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(text) ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(ms)) throw new AppError('INVALID_REQUEST', `${field} must be an ISO-8601 timestamp`);
  return new Date(ms);
}

/** `clusterShards`: the default shard count on a Redis Cluster (1 on a single Redis). */
export function createCatalog(db: Db, inventory: Inventory, activities: ActivityCache, clusterShards = 1) {
  /** MySQL first (the truth), then the cached copies go everywhere; returns the activity as it now is. */
  async function change(activityId: string, changes: ActivityChanges): Promise<Activity> {
    if (!(await updateActivity(db, activityId, changes))) throw new AppError('NOT_FOUND', `activity ${activityId} not found`);
    await activities.invalidate(activityId);
    const updated = await findActivity(db, activityId);
    if (!updated) throw new AppError('NOT_FOUND', `activity ${activityId} not found`);
    return updated;
  }

  return {
    createCommodity(input: { name: string; description?: string | null; priceCents: number; category?: string | null }): Promise<Commodity> {
      const commodity: NewCommodity = {
        name: input.name,
        description: input.description ?? null,
        priceCents: input.priceCents,
        category: input.category ?? null,
      };
      return insertCommodity(db, commodity);
    },

    async createActivity(input: ActivityInput): Promise<Activity> {
      const startAt = parseTime('startAt', input.startAt);
      const endAt = parseTime('endAt', input.endAt);
      if (endAt <= startAt) throw new AppError('INVALID_REQUEST', 'endAt must be after startAt');
      const commodityId = String(input.commodityId);
      if (!(await findCommodity(db, commodityId))) throw new AppError('NOT_FOUND', `commodity ${commodityId} not found`);
      const activity: NewActivity = {
        name: input.name,
        commodityId,
        priceCents: input.priceCents,
        stock: input.stock,
        startAt,
        endAt,
        limitPerUser: input.limitPerUser,
        paymentTimeoutSeconds: input.paymentTimeoutSeconds,
        antiBot: input.antiBot,
        challengeDifficulty: input.challengeDifficulty,
        segments: Math.min(input.segments ?? defaultSegments(input.stock), input.stock),
        shards: Math.min(input.shards ?? defaultShards(input.stock, clusterShards), input.stock),
        waitingRoom: withWaitingRoom(WAITING_ROOM_OFF, input.waitingRoom),
      };
      const created = await insertActivity(db, activity);
      // Pre-heat now, not at startAt: the stock is in Redis before the first buyer arrives,
      // with no further call. (The worker's sweep re-loads it if Redis is ever lost.) Nothing of
      // a sale created this instant can be in the order pipeline, whatever its startAt.
      await inventory.loadFromTruth(created, { pipeline: 'empty' });
      await activities.invalidate(created.id);
      return created;
    },

    list: () => listActivities(db),

    listCommodities: () => listCommodities(db),

    /**
     * PATCH: MySQL first (the truth), then the cached copies go — Redis and every instance's
     * local one, and again ~500 ms later (activity-cache.ts) — so every instance shows it within 1 s.
     */
    async updateActivity(activityId: string, input: ActivityUpdate): Promise<Activity> {
      const current = await findActivity(db, activityId);
      if (!current) throw new AppError('NOT_FOUND', `activity ${activityId} not found`);
      const endAt = input.endAt === undefined ? undefined : parseTime('endAt', input.endAt);
      if (endAt && endAt <= current.startAt) throw new AppError('INVALID_REQUEST', 'endAt must be after startAt');
      const changes: ActivityChanges = {};
      if (input.name !== undefined) changes.name = input.name;
      if (input.priceCents !== undefined) changes.priceCents = input.priceCents;
      if (endAt) changes.endAt = endAt;
      // Mode, pace and pause may change mid-sale: every instance and the admission leader read
      // them through the activity cache, so they take effect within a second.
      if (input.waitingRoom !== undefined) changes.waitingRoom = withWaitingRoom(current.waitingRoom, input.waitingRoom);
      return change(activityId, changes);
    },

    /**
     * Pause (true) or resume (false): MySQL first, then every instance's cached copy goes, so the
     * purchase path of every process refuses (403 PAUSED) within a second, before reserving anything.
     * Idempotent: pausing a paused sale keeps its first pause time.
     */
    async setPaused(activityId: string, paused: boolean): Promise<Activity> {
      return change(activityId, { paused });
    },

    /**
     * Ends the sale now, by the server's clock (an operator's clock may be off). An upcoming sale
     * ends before it starts (its start moves to just before now, keeping endAt > startAt); an ended
     * one is returned unchanged.
     */
    async endNow(activityId: string): Promise<Activity> {
      const current = await findActivity(db, activityId);
      if (!current) throw new AppError('NOT_FOUND', `activity ${activityId} not found`);
      const now = new Date();
      if (current.endAt <= now) return current;
      return change(activityId, { endAt: now, ...(current.startAt >= now ? { startAt: new Date(now.getTime() - 1) } : {}) });
    },

    async require(activityId: string): Promise<Activity> {
      const activity = await activities.get(activityId);
      if (!activity) throw new AppError('NOT_FOUND', `activity ${activityId} not found`);
      return activity;
    },
  };
}

export type Catalog = ReturnType<typeof createCatalog>;
