/**
 * The admission leader: one process at a time (a Redis lease) moves every waiting room's line.
 * Each tick, per activity whose pre-queue is open: drop silent places and unused passes; close
 * every ticket at once when nothing can come back (SOLD_OUT) or the sale ends; otherwise admit the
 * next people across all shards (the heads of every shard's line merged, so the activity's order
 * holds) as fast as the activity's Redis token bucket allows — the bucket, not the leader, sets the
 * pace, so a failover or two leaders for a moment never multiply the rate.
 *
 * Admission waits while nothing is on open sale: units that come back go to the waitlist's offers
 * first (they are held, not on sale), and only what the waitlist does not take reopens admission.
 */
import type { Db } from '../db/client.ts';
import { listOpenActivities } from '../db/repositories/catalog.ts';
import { findStock } from '../db/repositories/stock.ts';
import type { Activity } from '../domain/activity.ts';
import { AUTO_RATE, autoRoom, buyShare, hasWaitingRoom, nextAutoRate, prequeueOpensAtMs } from '../domain/waiting-room.ts';
import type { BackgroundTask } from '../platform/background-task.ts';
import type { Logger } from '../platform/log.ts';
import type { Metrics } from '../platform/metrics.ts';
import { periodicTask } from '../platform/periodic.ts';
import type { RedisClient } from '../redis/client.ts';
import type { Keys } from '../redis/keys.ts';
import { renewLease, takeLease } from '../redis/lease.ts';
import { remaining } from '../redis/stock.ts';
import { queueAdmit, queueCounters, queueHeads, queueSweep, queueTakeTokens, unsettledReservations, writeQueueControl } from '../redis/waiting-room.ts';
import type { QueueEvent, WaitingRoom } from './waiting-room.ts';

export interface AdmissionLeaderDeps {
  db: Db;
  redis: RedisClient;
  keys: Keys;
  waitingRoom: Pick<WaitingRoom, 'announce'>;
  log: Logger;
  metrics: Pick<Metrics, 'queueWaiting' | 'queueAdmitted' | 'queueAbandoned' | 'queuePassesExpired' | 'queueClosedEarly' | 'queueWaitSeconds'>;
  instanceId: string;
  intervalMs?: number;
  now?: () => number;
}

const LEASE_MS = 3000;
/** Open activities are listed from MySQL at most this often (settings, pause, new sales). */
const LIST_EVERY_MS = 1000;
/** MySQL's stock row is read this often per activity, and 4× as often while nothing is on open sale (sold-out closes within a second). */
const STOCK_EVERY_MS = 1000;
/** Rates are measured over this window. */
const WINDOW_MS = 10_000;
/** Of the units in unpaid orders, the share assumed to come back (a timeout or a cancel) when telling people their chance. */
const RETURN_SHARE = 0.2;
/** Progress is broadcast to every socket at most this often per activity. */
const PROGRESS_EVERY_MS = 1000;
/** Admissions per push message: a large batch is split so no pub/sub message grows without bound. */
const PUSH_CHUNK = 500;

interface Track {
  samples: Array<{ atMs: number; admitted: number }>;
  stock?: { atMs: number; sold: number };
  progressAtMs: number;
  closed?: 'SOLD_OUT' | 'ENDED';
  waiting: number;
  /** The automatic rate and when it was last adjusted. */
  auto: { rate: number; atMs: number };
}

/** Admissions per second over the samples' window. */
function admittedPerSecond(samples: Track['samples']): number {
  const first = samples[0];
  const last = samples.at(-1);
  if (!first || !last || last.atMs - first.atMs < 500) return 0;
  return ((last.admitted - first.admitted) * 1000) / (last.atMs - first.atMs);
}

export function createAdmissionLeader(deps: AdmissionLeaderDeps): BackgroundTask {
  const { db, redis, keys, metrics, log } = deps;
  const now = deps.now ?? Date.now;
  const owner = `${deps.instanceId}:${process.pid}:${Math.random().toString(36).slice(2)}`;
  const tracks = new Map<string, Track>();
  let leading = false;
  let listed: { atMs: number; activities: Activity[] } | undefined;

  async function lead(): Promise<boolean> {
    leading = leading ? await renewLease(redis, keys.queueLeader, owner, LEASE_MS) : await takeLease(redis, keys.queueLeader, owner, LEASE_MS);
    return leading;
  }

  async function rooms(nowMs: number): Promise<Activity[]> {
    if (!listed || nowMs - listed.atMs >= LIST_EVERY_MS) {
      const open = await listOpenActivities(db, new Date(nowMs));
      listed = { atMs: nowMs, activities: open.filter((a) => hasWaitingRoom(a.waitingRoom)) };
    }
    return listed.activities;
  }

  async function announce(event: QueueEvent): Promise<void> {
    await deps.waitingRoom.announce(event).catch((error: unknown) => log.warn({ err: error }, 'waiting room: push not published'));
  }

  async function close(activity: Activity, track: Track, reason: 'SOLD_OUT' | 'ENDED', waiting: number): Promise<void> {
    track.closed = reason;
    metrics.queueClosedEarly.inc({ reason }, waiting);
    await writeQueueControl(redis, keys, activity, { closed: reason, closedEarly: waiting, waiting });
    log.info({ activityId: activity.id, reason, waiting }, 'waiting room closed every ticket');
  }

  async function moveLine(activity: Activity, nowMs: number): Promise<void> {
    const settings = activity.waitingRoom;
    let track = tracks.get(activity.id);
    if (!track) {
      track = { samples: [], progressAtMs: 0, waiting: 0, auto: { rate: AUTO_RATE.start, atMs: nowMs } };
      tracks.set(activity.id, track);
    }
    const swept = await queueSweep(redis, keys, activity, { silentBeforeMs: nowMs - settings.keepSeconds * 1000, nowMs });
    metrics.queueAbandoned.inc(swept.abandoned);
    metrics.queuePassesExpired.inc(swept.expired);

    const onSale = (await remaining(redis, keys, activity.id, activity.shards)) ?? 0;
    if (!track.stock || nowMs - track.stock.atMs >= (onSale > 0 ? STOCK_EVERY_MS : STOCK_EVERY_MS / 4)) {
      const row = await findStock(db, activity.id);
      track.stock = { atMs: nowMs, sold: row?.sold ?? 0 };
    }
    const mayReturn = Math.max(0, activity.stock - track.stock.sold - onSale);
    const counters = await queueCounters(redis, keys, activity);
    track.samples.push({ atMs: nowMs, admitted: counters.admitted });
    while (track.samples.length > 2 && nowMs - (track.samples[0]?.atMs ?? nowMs) > WINDOW_MS) track.samples.shift();
    const share = buyShare(counters.admitted, counters.bought);

    let closed: 'SOLD_OUT' | 'ENDED' | undefined;
    if (nowMs >= activity.endAt.getTime()) closed = 'ENDED';
    else if (track.stock.sold >= activity.stock) closed = 'SOLD_OUT';
    const justClosed = closed !== undefined && track.closed !== closed;
    if (closed && justClosed) await close(activity, track, closed, swept.waiting);
    else if (!closed && track.closed) {
      // The sale was extended (PATCH endAt): the line moves again.
      track.closed = undefined;
      await redis.hdel(keys.shard(activity.id, activity.shards, 0).queue.control, 'closed');
    }

    let rate = settings.admitPerSecond;
    let admitted: Awaited<ReturnType<typeof queueAdmit>> = [];
    if (!closed && !settings.paused && nowMs >= activity.startAt.getTime() && onSale > 0) {
      let want: number;
      if (settings.admitPerSecond > 0) {
        want = Math.max(1, Math.ceil(rate / 2));
      } else {
        if (nowMs - track.auto.atMs >= 1000) track.auto = { rate: nextAutoRate(track.auto.rate, await unsettledReservations(redis, keys, activity)), atMs: nowMs };
        rate = track.auto.rate;
        want = Math.min(autoRoom({ onSale, outstandingPasses: swept.outstandingPasses, buyShare: share }), Math.max(1, Math.ceil(rate / 2)));
      }
      want = Math.min(want, swept.waiting);
      const tokens = want > 0 ? await queueTakeTokens(redis, keys, activity, { rate, burst: Math.max(1, Math.ceil(rate / 2)), want }) : 0;
      if (tokens > 0) {
        const heads = await queueHeads(redis, keys, activity.id, activity.shards, tokens);
        const maxScore = heads.at(-1);
        if (maxScore !== undefined) admitted = await queueAdmit(redis, keys, activity, { maxScore, limit: tokens, nowMs, passMs: settings.passSeconds * 1000 });
      }
    }

    const waiting = swept.waiting - admitted.length;
    const admittedTotal = counters.admitted + admitted.length;
    metrics.queueAdmitted.inc(admitted.length);
    for (const person of admitted) metrics.queueWaitSeconds.observe(Math.max(0, nowMs - person.joinedAtMs) / 1000);
    metrics.queueWaiting.inc(waiting - track.waiting);
    track.waiting = waiting;
    const measured = admittedPerSecond(track.samples);
    await writeQueueControl(redis, keys, activity, {
      waiting,
      admittedTotal,
      ratePerSecond: Math.round((measured > 0 ? measured : settings.paused ? 0 : rate) * 100) / 100,
      units: onSale + Math.ceil(mayReturn * RETURN_SHARE),
      buyShare: Math.round(share * 1000) / 1000,
    });

    const passMs = settings.passSeconds * 1000;
    for (let i = 0; i < admitted.length; i += PUSH_CHUNK) {
      const users = admitted.slice(i, i + PUSH_CHUNK).map((p) => ({ userId: p.userId, joinedAtMs: p.joinedAtMs, passExpiresAtMs: nowMs + passMs }));
      await announce({ kind: 'admitted', activityId: activity.id, users, admittedTotal });
    }
    if (justClosed || nowMs - track.progressAtMs >= PROGRESS_EVERY_MS) {
      track.progressAtMs = nowMs;
      await announce({ kind: 'progress', activityId: activity.id, admittedTotal, waiting, ...(closed ? { closed } : {}) });
    }
  }

  async function tick(): Promise<void> {
    if (!(await lead())) {
      // Another process leads: its gauge counts the people waiting, this one reports none.
      metrics.queueWaiting.set(0);
      for (const track of tracks.values()) track.waiting = 0;
      return;
    }
    const nowMs = now();
    for (const activity of await rooms(nowMs)) {
      if (nowMs < prequeueOpensAtMs(activity.startAt, activity.waitingRoom)) continue;
      try {
        await moveLine(activity, nowMs);
      } catch (error) {
        log.warn({ err: error, activityId: activity.id }, 'waiting room: tick failed for an activity');
      }
    }
  }

  return periodicTask('waiting-room', deps.intervalMs ?? 100, log, tick);
}
