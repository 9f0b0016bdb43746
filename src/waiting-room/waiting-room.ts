/**
 * The waiting room (排队) for buyers: join, see the ticket (the poll that keeps a place), leave,
 * and the pass check the purchase and the anti-bot challenge run when an activity has one.
 *
 * Places live in Redis on each person's home shard (src/redis/waiting-room.ts). Before startAt in
 * random mode a person's place is a 50-bit number from the OS's CSPRNG, never shown, so the
 * pre-queue's order is a uniform shuffle nobody can predict or improve by arriving first; every
 * other arrival is placed by its arrival time, after all of those. Which of them are admitted, and
 * when, is the admission leader's business (admission.ts); this module only reads what it published.
 */
import { randomBytes } from 'node:crypto';
import { type Activity, waitingRoomJson } from '../domain/activity.ts';
import { AppError } from '../domain/errors.ts';
import type { AdmissionCheck, PurchaseRequest } from '../domain/purchase.ts';
import {
  buyShare as smoothedBuyShare,
  chanceOfUnit,
  hasWaitingRoom,
  pollAfterMs,
  prequeueOpensAtMs,
  type TicketCloseReason,
  type TicketStatus,
} from '../domain/waiting-room.ts';
import type { ActivityCache } from '../inventory/activity-cache.ts';
import type { Logger } from '../platform/log.ts';
import type { Metrics } from '../platform/metrics.ts';
import type { PubSub } from '../platform/pubsub.ts';
import type { RedisClient } from '../redis/client.ts';
import type { Keys } from '../redis/keys.ts';
import { homeKeys } from '../redis/shards.ts';
import { queueCounters, queueCountBought, queueJoin, queueLeave, queueSizes, queueView, readQueueControl, type TicketView } from '../redis/waiting-room.ts';
import type { Passes } from './passes.ts';

export interface TicketJson {
  activityId: string;
  status: TicketStatus;
  mode: 'fifo' | 'random';
  joinedAt: string;
  position?: number;
  peopleAhead?: number;
  etaSeconds?: number;
  chance?: number;
  waiting?: number;
  admittedTotal: number;
  startAt: string;
  pass?: string;
  passExpiresAt?: string;
  reason?: TicketCloseReason;
  pollAfterMs: number;
}

/** What the admission leader publishes for an activity (src/waiting-room/admission.ts), parsed. */
export interface QueueControl {
  closed?: 'SOLD_OUT' | 'ENDED';
  waiting: number;
  admittedTotal: number;
  ratePerSecond: number;
  units: number;
  buyShare: number;
}

/** Pub/sub messages on the queue channel, fanned out to WebSockets. */
export type QueueEvent =
  | { kind: 'admitted'; activityId: string; users: Array<{ userId: string; passExpiresAtMs: number; joinedAtMs: number }>; admittedTotal: number }
  | { kind: 'progress'; activityId: string; admittedTotal: number; waiting: number; closed?: 'SOLD_OUT' | 'ENDED' };

export interface WaitingRoomDeps {
  redis: RedisClient;
  keys: Keys;
  activities: Pick<ActivityCache, 'get'>;
  pubsub: PubSub;
  passes: Passes;
  log: Logger;
  metrics?: Pick<Metrics, 'queueJoins' | 'queueBought'>;
  /** True when the user holds a live waitlist offer: an offered unit is bought without a pass. */
  hasWaitlistOffer?: (userId: string, activityId: string) => Promise<boolean>;
  now?: () => number;
}

/** The published view is re-read at most this often per activity and process: polls never make it a hot key. */
const CONTROL_TTL_MS = 200;
/** A random-mode place before the start: below 2^50, so below every arrival-time place. */
const RANDOM_PLACE_BITS = 50n;
/** Arrival-time places start here (2^51) and count microseconds: exact in a double until 2^53. */
const ARRIVAL_BASE = 2 ** 51;

const busy = (cause: unknown) => new AppError('BUSY', 'the waiting room is unavailable, retry shortly', { cause, retryAfter: 1 });

export function parseControl(raw: Record<string, string>, activity: Pick<Activity, 'stock'>): QueueControl {
  const closed = raw.closed === 'SOLD_OUT' || raw.closed === 'ENDED' ? raw.closed : undefined;
  return {
    ...(closed ? { closed } : {}),
    waiting: Number(raw.waiting ?? 0),
    admittedTotal: Number(raw.admittedTotal ?? 0),
    ratePerSecond: Number(raw.ratePerSecond ?? 0),
    units: Number(raw.units ?? activity.stock),
    buyShare: Number(raw.buyShare ?? smoothedBuyShare(0, 0)),
  };
}

let lastArrival = 0;

/**
 * Where a new arrival goes in line (lower first): before the start in random mode, a hidden draw
 * from the CSPRNG below every arrival place; otherwise the arrival time in microseconds, strictly
 * increasing within the process, so two joins in one millisecond keep their order.
 */
export function placeFor(mode: 'off' | 'fifo' | 'random', startAtMs: number, nowMs: number): number {
  if (mode === 'random' && nowMs < startAtMs) return Number(randomBytes(8).readBigUInt64BE() >> (64n - RANDOM_PLACE_BITS));
  const micros = Math.max(nowMs * 1000 + Math.floor((performance.now() % 1) * 1000), lastArrival + 1);
  lastArrival = micros;
  return ARRIVAL_BASE + (micros - Date.UTC(2020, 0, 1) * 1000);
}

export function createWaitingRoom(deps: WaitingRoomDeps) {
  const { redis, keys, activities, passes } = deps;
  const now = deps.now ?? Date.now;
  const controls = new Map<string, { atMs: number; value: Promise<QueueControl> }>();
  const handlers = new Set<(event: QueueEvent) => void>();

  function control(activity: Activity): Promise<QueueControl> {
    const cached = controls.get(activity.id);
    const t = now();
    if (cached && t - cached.atMs < CONTROL_TTL_MS) return cached.value;
    const value = readQueueControl(redis, keys, activity).then((raw) => parseControl(raw, activity));
    value.catch(() => controls.delete(activity.id));
    controls.set(activity.id, { atMs: t, value });
    if (controls.size > 10_000) controls.clear();
    return value;
  }

  async function requireRoom(activityId: string): Promise<Activity> {
    const activity = await activities.get(activityId);
    if (!activity) throw new AppError('NOT_FOUND', 'activity not found');
    if (!hasWaitingRoom(activity.waitingRoom)) throw new AppError('NO_WAITING_ROOM', 'this sale has no waiting room: buy directly');
    return activity;
  }

  const place = (activity: Activity, userId: string) => ({ activityId: activity.id, userId, shards: activity.shards });

  function ticketJson(activity: Activity, view: Exclude<TicketView, { state: 'none' }>, ctl: QueueControl, userId: string, nowMs: number): TicketJson {
    const settings = activity.waitingRoom;
    const base = {
      activityId: activity.id,
      mode: settings.mode === 'random' ? ('random' as const) : ('fifo' as const),
      joinedAt: new Date(view.joinedAtMs || nowMs).toISOString(),
      admittedTotal: ctl.admittedTotal,
      startAt: activity.startAt.toISOString(),
    };
    const untilStartMs = activity.startAt.getTime() - nowMs;
    const poll = (etaSeconds?: number) => pollAfterMs({ etaSeconds, keepSeconds: settings.keepSeconds, untilStartMs });
    if (ctl.closed) return { ...base, status: 'CLOSED', reason: ctl.closed, pollAfterMs: poll() };
    // The leader only looks at open sales: past the end, every ticket reads ENDED on its own.
    if (nowMs >= activity.endAt.getTime()) return { ...base, status: 'CLOSED', reason: 'ENDED', pollAfterMs: poll() };
    if (view.state === 'closed') return { ...base, status: 'CLOSED', reason: view.reason as TicketCloseReason, pollAfterMs: poll() };
    if (view.state === 'admitted') {
      return {
        ...base,
        status: 'ADMITTED',
        pass: passes.sign(activity.id, userId, view.passExpiresAtMs),
        passExpiresAt: new Date(view.passExpiresAtMs).toISOString(),
        pollAfterMs: poll(),
      };
    }
    // One shard: exact. Several: this shard's count scaled to the whole line (people are spread
    // over shards by a hash of their id, so it is an unbiased estimate) — a poll reads one shard only.
    const waiting = Math.max(ctl.waiting, view.waitingOnShard);
    const ahead = activity.shards <= 1 ? view.aheadOnShard : Math.round((view.aheadOnShard * waiting) / Math.max(1, view.waitingOnShard));
    const started = nowMs >= activity.startAt.getTime();
    if (!started && settings.mode === 'random') {
      // Nobody has a place before the shuffle: the chance is the average over every place.
      const samples = Math.min(waiting, 32);
      let sum = 0;
      for (let i = 0; i < samples; i++) sum += chanceOfUnit(ctl.units, Math.floor(((i + 0.5) * waiting) / samples), ctl.buyShare);
      const chance = samples === 0 ? 1 : Math.round((sum / samples) * 1000) / 1000;
      return { ...base, status: 'PREQUEUE', waiting, chance, pollAfterMs: poll() };
    }
    // Paused, the line does not move: no ETA rather than a wrong one.
    const rate = settings.paused ? 0 : ctl.ratePerSecond > 0 ? ctl.ratePerSecond : settings.admitPerSecond;
    const etaSeconds = started && rate > 0 ? Math.ceil((ahead + 1) / rate) : undefined;
    return {
      ...base,
      status: started ? 'WAITING' : 'PREQUEUE',
      position: ahead + 1,
      peopleAhead: ahead,
      ...(etaSeconds === undefined ? {} : { etaSeconds }),
      chance: chanceOfUnit(ctl.units, ahead, ctl.buyShare),
      waiting,
      pollAfterMs: poll(etaSeconds),
    };
  }

  async function ticket(activity: Activity, userId: string, touch: boolean): Promise<TicketJson> {
    const nowMs = now();
    let view: TicketView;
    let ctl: QueueControl;
    try {
      [view, ctl] = await Promise.all([queueView(redis, keys, place(activity, userId), nowMs, touch), control(activity)]);
    } catch (error) {
      throw busy(error);
    }
    if (view.state === 'none') throw new AppError('NOT_FOUND', 'no ticket: join the queue first');
    return ticketJson(activity, view, ctl, userId, nowMs);
  }

  async function join(userId: string, activityId: string): Promise<TicketJson> {
    const activity = await requireRoom(activityId);
    const nowMs = now();
    if (nowMs < prequeueOpensAtMs(activity.startAt, activity.waitingRoom)) throw new AppError('NOT_STARTED', 'the queue is not open yet');
    if (nowMs >= activity.endAt.getTime()) throw new AppError('ENDED', 'the sale has ended');
    try {
      const ctl = await control(activity);
      // Nothing can come back: no place is given, the ticket says so (and the page offers the waitlist).
      if (!ctl.closed && (await queueJoin(redis, keys, place(activity, userId), placeFor(activity.waitingRoom.mode, activity.startAt.getTime(), nowMs), nowMs)) === 'joined') deps.metrics?.queueJoins.inc();
    } catch (error) {
      throw busy(error);
    }
    return ticket(activity, userId, false).catch((error: unknown) => {
      // Closed before anyone joined: the ticket is the closed sale itself.
      if (error instanceof AppError && error.code === 'NOT_FOUND') return closedTicket(activity, nowMs);
      throw error;
    });
  }

  async function closedTicket(activity: Activity, nowMs: number): Promise<TicketJson> {
    const ctl = await control(activity);
    return {
      activityId: activity.id,
      status: 'CLOSED',
      mode: activity.waitingRoom.mode === 'random' ? 'random' : 'fifo',
      joinedAt: new Date(nowMs).toISOString(),
      admittedTotal: ctl.admittedTotal,
      startAt: activity.startAt.toISOString(),
      reason: ctl.closed ?? 'ENDED',
      pollAfterMs: pollAfterMs({ etaSeconds: undefined, keepSeconds: activity.waitingRoom.keepSeconds }),
    };
  }

  /** The purchase's admission check: with a waiting room, only a valid pass (or a replay, or a waitlist offer) goes on. */
  const check: AdmissionCheck = async (request: PurchaseRequest, activity: Activity) => {
    if (!hasWaitingRoom(activity.waitingRoom)) return;
    const refusal = passes.verify(request.pass, activity.id, request.userId, now());
    if (!refusal) return;
    try {
      // A retry of a request already answered (its pass may have expired since) gets its stored answer.
      const home = homeKeys(keys, activity.id, request.userId, activity.shards);
      if ((await redis.exists(home.request(request.userId, request.requestId))) === 1) return;
      // A waitlist offer is a place of its own: the offered unit is held for this user only.
      if (await deps.hasWaitlistOffer?.(request.userId, activity.id)) return;
    } catch {
      // Without Redis the exemptions cannot be checked: the refusal stands, nothing is reserved.
    }
    throw refusal;
  };

  return {
    join,
    /** The caller's ticket; the poll that keeps their place. */
    async get(userId: string, activityId: string): Promise<TicketJson> {
      return ticket(await requireRoom(activityId), userId, true);
    },
    async leave(userId: string, activityId: string): Promise<void> {
      const activity = await requireRoom(activityId);
      let left: boolean;
      try {
        left = await queueLeave(redis, keys, place(activity, userId));
      } catch (error) {
        throw busy(error);
      }
      if (!left) throw new AppError('NOT_FOUND', 'no place to leave');
    },
    check,
    /** The challenge's gate: with a waiting room, a challenge is issued only to an admitted person. */
    requirePass(userId: string, activity: Activity, pass: string | undefined): void {
      if (!hasWaitingRoom(activity.waitingRoom)) return;
      const refusal = passes.verify(pass, activity.id, userId, now());
      if (refusal) throw refusal;
    },
    /** Counts a reservation by an admitted person: the share who buy sizes automatic admission and every chance. */
    async recordPurchase(userId: string, activityId: string): Promise<void> {
      const activity = await activities.get(activityId);
      if (!activity || !hasWaitingRoom(activity.waitingRoom)) return;
      deps.metrics?.queueBought.inc();
      await queueCountBought(redis, keys, place(activity, userId));
    },
    /** The ADMITTED ticket a push carries (no Redis read: the leader said who and until when). */
    admittedTicket(activity: Activity, user: { userId: string; passExpiresAtMs: number; joinedAtMs: number }, admittedTotal: number): TicketJson {
      return ticketJson(
        activity,
        { state: 'admitted', passExpiresAtMs: user.passExpiresAtMs, joinedAtMs: user.joinedAtMs, admittedAtMs: now() },
        { waiting: 0, admittedTotal, ratePerSecond: 0, units: 0, buyShare: 0 },
        user.userId,
        now(),
      );
    },
    /** The admin's view: settings, sizes, counters and what the leader last measured. */
    async stats(activity: Activity) {
      const [sizes, counters, raw] = await Promise.all([
        queueSizes(redis, keys, activity, now()),
        queueCounters(redis, keys, activity),
        readQueueControl(redis, keys, activity),
      ]).catch((error: unknown) => {
        throw busy(error);
      });
      const ctl = parseControl(raw, activity);
      return {
        activityId: activity.id,
        settings: waitingRoomJson(activity),
        ...(ctl.closed ? { closed: ctl.closed } : {}),
        ...sizes,
        joined: counters.joined,
        admitted: counters.admitted,
        bought: counters.bought,
        abandoned: counters.abandoned,
        passesExpired: counters.expired,
        closedEarly: Number(raw.closedEarly ?? 0),
        admittedPerMinute: Math.round(ctl.ratePerSecond * 60 * 100) / 100,
        buyShare: ctl.buyShare,
        unitsLeft: ctl.units,
      };
    },
    async announce(event: QueueEvent): Promise<void> {
      await deps.pubsub.publish(keys.queueChannel, JSON.stringify(event));
    },
    async listen(): Promise<void> {
      await deps.pubsub.subscribe(keys.queueChannel, (message) => {
        const event = JSON.parse(message) as QueueEvent;
        // A closing must show at once on every instance, not after the view's cache runs out.
        if (event.kind === 'progress' && event.closed) controls.delete(event.activityId);
        for (const handler of handlers) handler(event);
      });
    },
    onEvent(handler: (event: QueueEvent) => void): void {
      handlers.add(handler);
    },
  };
}

export type WaitingRoom = ReturnType<typeof createWaitingRoom>;
