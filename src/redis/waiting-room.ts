/**
 * The waiting room (排队) in Redis. Each person's entries live on their home shard (the same hash
 * tag as their reservation keys), so joins and polls spread over the stock's shards; what is
 * activity-wide (the leader's published view, the admission bucket) lives on shard 0 and is read
 * at most a few times a second per process. The only module that builds the queue scripts' KEYS
 * and ARGV (queueJoin-6, queueView-5, queueAdmit-5, queueSweep-5, queueBucket-1).
 */
import type { RedisClient } from './client.ts';
import type { Keys, QueueKeys } from './keys.ts';
import { runCall } from './scripts.ts';
import { allShardKeys, homeKeys } from './shards.ts';

const queueOf = (keys: Keys, activityId: string, userId: string, shards: number): QueueKeys => homeKeys(keys, activityId, userId, shards).queue;
const controlShard = (keys: Keys, activityId: string, shards: number): QueueKeys => keys.shard(activityId, shards, 0).queue;

export type JoinOutcome = 'joined' | 'waiting' | 'admitted';

/** Puts the person in line with `score` (lower goes first), unless they already hold a ticket. */
export async function queueJoin(
  redis: RedisClient,
  keys: Keys,
  place: { activityId: string; userId: string; shards: number },
  score: number,
  nowMs: number,
): Promise<JoinOutcome> {
  const q = queueOf(keys, place.activityId, place.userId, place.shards);
  const [code] = await runCall<[number]>(redis, {
    name: 'queueJoin',
    keys: [q.line, q.seen, q.admitted, q.tickets, q.closed, q.counters],
    args: [place.userId, score, nowMs],
  });
  return code === 0 ? 'joined' : code === 1 ? 'waiting' : 'admitted';
}

export type TicketView =
  | { state: 'waiting'; aheadOnShard: number; waitingOnShard: number; joinedAtMs: number }
  | { state: 'admitted'; passExpiresAtMs: number; joinedAtMs: number; admittedAtMs: number }
  | { state: 'closed'; reason: string; joinedAtMs: number }
  | { state: 'none' };

function parseTicket(text: unknown): { joinedAtMs: number; admittedAtMs: number } {
  const [joined, admitted] = String(text ?? '').split('|');
  return { joinedAtMs: Number(joined) || 0, admittedAtMs: Number(admitted) || 0 };
}

/** The person's ticket; `touch` counts the read as the heartbeat that keeps their place. */
export async function queueView(
  redis: RedisClient,
  keys: Keys,
  place: { activityId: string; userId: string; shards: number },
  nowMs: number,
  touch: boolean,
): Promise<TicketView> {
  const q = queueOf(keys, place.activityId, place.userId, place.shards);
  const reply = await runCall<Array<number | string>>(redis, {
    name: 'queueView',
    keys: [q.line, q.seen, q.admitted, q.tickets, q.closed],
    args: [place.userId, nowMs, touch ? 1 : 0],
  });
  switch (Number(reply[0])) {
    case 1:
      return { state: 'waiting', aheadOnShard: Number(reply[1]), waitingOnShard: Number(reply[2]), joinedAtMs: parseTicket(reply[3]).joinedAtMs };
    case 2:
      return { state: 'admitted', passExpiresAtMs: Number(reply[1]), ...parseTicket(reply[2]) };
    case 3:
      return { state: 'closed', reason: String(reply[1]), joinedAtMs: parseTicket(reply[2]).joinedAtMs };
    default:
      return { state: 'none' };
  }
}

/** The person leaves: their place (or pass) is given up, the ticket reads LEFT. */
export async function queueLeave(redis: RedisClient, keys: Keys, place: { activityId: string; userId: string; shards: number }): Promise<boolean> {
  const q = queueOf(keys, place.activityId, place.userId, place.shards);
  // One MULTI on one slot: the person is never half gone.
  const results = await redis
    .multi()
    .zrem(q.line, place.userId)
    .zrem(q.seen, place.userId)
    .zrem(q.admitted, place.userId)
    .hset(q.closed, place.userId, 'LEFT')
    .exec();
  if (!results) throw new Error('queue leave aborted');
  return results.slice(0, 3).some(([, removed]) => Number(removed) > 0);
}

/** The first `limit` scores of each shard's line, merged: who is next across the whole activity. */
export async function queueHeads(redis: RedisClient, keys: Keys, activityId: string, shards: number, limit: number): Promise<number[]> {
  if (limit <= 0) return [];
  const heads = await Promise.all(
    allShardKeys(keys, activityId, shards).map((k) => redis.zrange(k.queue.line, 0, limit - 1, 'WITHSCORES')),
  );
  const scores = heads.flatMap((flat) => flat.filter((_, i) => i % 2 === 1).map(Number));
  return scores.sort((a, b) => a - b).slice(0, limit);
}

export interface Admitted {
  userId: string;
  joinedAtMs: number;
}

/** Admits, on every shard, the people placed at or before `maxScore`, at most `limit` in all. */
export async function queueAdmit(
  redis: RedisClient,
  keys: Keys,
  activity: { id: string; shards: number },
  input: { maxScore: number; limit: number; nowMs: number; passMs: number },
): Promise<Admitted[]> {
  const admitted: Admitted[] = [];
  for (const k of allShardKeys(keys, activity.id, activity.shards)) {
    const left = input.limit - admitted.length;
    if (left <= 0) break;
    const q = k.queue;
    const flat = await runCall<string[]>(redis, {
      name: 'queueAdmit',
      keys: [q.line, q.seen, q.admitted, q.tickets, q.counters],
      args: [input.maxScore, left, input.nowMs, input.passMs],
    });
    for (let i = 0; i + 1 < flat.length; i += 2) admitted.push({ userId: String(flat[i]), joinedAtMs: Number(flat[i + 1]) });
  }
  return admitted;
}

export interface SweepResult {
  abandoned: number;
  expired: number;
  waiting: number;
  outstandingPasses: number;
}

/** Drops silent places and closes unused passes on every shard; returns the totals after it. */
export async function queueSweep(
  redis: RedisClient,
  keys: Keys,
  activity: { id: string; shards: number },
  input: { silentBeforeMs: number; nowMs: number; limit?: number },
): Promise<SweepResult> {
  const replies = await Promise.all(
    allShardKeys(keys, activity.id, activity.shards).map(({ queue: q }) =>
      runCall<[number, number, number, number]>(redis, {
        name: 'queueSweep',
        keys: [q.line, q.seen, q.admitted, q.closed, q.counters],
        args: [input.silentBeforeMs, input.nowMs, input.limit ?? 5000],
      }),
    ),
  );
  const total: SweepResult = { abandoned: 0, expired: 0, waiting: 0, outstandingPasses: 0 };
  for (const [abandoned, expired, waiting, outstanding] of replies) {
    total.abandoned += Number(abandoned);
    total.expired += Number(expired);
    total.waiting += Number(waiting);
    total.outstandingPasses += Number(outstanding);
  }
  return total;
}

/** Takes up to `want` admissions from the activity's bucket (rate per second, holding at most `burst`). */
export async function queueTakeTokens(
  redis: RedisClient,
  keys: Keys,
  activity: { id: string; shards: number },
  input: { rate: number; burst: number; want: number },
): Promise<number> {
  const q = controlShard(keys, activity.id, activity.shards);
  return Number(await runCall<number>(redis, { name: 'queueBucket', keys: [q.bucket], args: [input.rate, input.burst, input.want] }));
}

export type QueueCounters = Record<'joined' | 'admitted' | 'bought' | 'abandoned' | 'expired', number>;

/** Every shard's counters, summed. */
export async function queueCounters(redis: RedisClient, keys: Keys, activity: { id: string; shards: number }): Promise<QueueCounters> {
  const all = await Promise.all(allShardKeys(keys, activity.id, activity.shards).map((k) => redis.hgetall(k.queue.counters)));
  const total: QueueCounters = { joined: 0, admitted: 0, bought: 0, abandoned: 0, expired: 0 };
  for (const shard of all) for (const name of Object.keys(total) as Array<keyof QueueCounters>) total[name] += Number(shard[name] ?? 0);
  return total;
}

/**
 * A purchase by an admitted person: counted, and their pass stops counting as outstanding (the
 * ticket reads BOUGHT), so automatic admission lets the next person in instead of waiting for a
 * pass that has done its job to expire. One MULTI on their home shard, beside their reservation.
 */
export async function queueCountBought(redis: RedisClient, keys: Keys, place: { activityId: string; userId: string; shards: number }): Promise<void> {
  const q = queueOf(keys, place.activityId, place.userId, place.shards);
  const results = await redis.multi().hincrby(q.counters, 'bought', 1).zrem(q.admitted, place.userId).hset(q.closed, place.userId, 'BOUGHT').exec();
  if (!results) throw new Error('queue purchase mark aborted');
}

/** The activity-wide view the admission leader publishes (closed reason, rate, units, …), as strings. */
export async function readQueueControl(redis: RedisClient, keys: Keys, activity: { id: string; shards: number }): Promise<Record<string, string>> {
  return redis.hgetall(controlShard(keys, activity.id, activity.shards).control);
}

export async function writeQueueControl(redis: RedisClient, keys: Keys, activity: { id: string; shards: number }, fields: Record<string, string | number>): Promise<void> {
  await redis.hset(controlShard(keys, activity.id, activity.shards).control, fields);
}

/** People waiting and passes still valid, summed over every shard (read only: the admin's stats). */
export async function queueSizes(redis: RedisClient, keys: Keys, activity: { id: string; shards: number }, nowMs: number): Promise<{ waiting: number; outstandingPasses: number }> {
  const sizes = await Promise.all(
    allShardKeys(keys, activity.id, activity.shards).map(async ({ queue: q }) => [await redis.zcard(q.line), await redis.zcount(q.admitted, `(${nowMs}`, '+inf')] as const),
  );
  return { waiting: sizes.reduce((sum, [w]) => sum + w, 0), outstandingPasses: sizes.reduce((sum, [, o]) => sum + o, 0) };
}

/** Reservations made but not yet settled by the order worker, over every shard: the pipeline's backlog. */
export async function unsettledReservations(redis: RedisClient, keys: Keys, activity: { id: string; shards: number }): Promise<number> {
  const counts = await Promise.all(allShardKeys(keys, activity.id, activity.shards).map((k) => redis.hlen(k.reservations)));
  return counts.reduce((sum, n) => sum + n, 0);
}
