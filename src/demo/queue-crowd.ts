/**
 * The crowd through the waiting room: every buyer but the bots joins the line before the start,
 * polls when the server says (`pollAfterMs`), and buys with the pass once admitted; a buyer stops
 * waiting when told early that no unit is left for them (chance under 1 %, or the ticket closed
 * SOLD_OUT), or when the line has stopped and the sale shows SOLD_OUT (everything on sale is
 * taken; unpaid units may come back, to the waitlist first). Bots ignore the line and hammer
 * `purchase`: the service answers them 403 PASS_REQUIRED (or SOLD_OUT from the local flag).
 *
 * Fairness check: in random mode the pre-queue's order in line must not follow its join order.
 * Both are read from the server's own record just before the start, for every pre-queue ticket:
 * its join time (the tickets hash) and its hidden place (the line's score). Admission order would
 * do too, but who is still in line when their turn comes depends on who gave up, and when — a
 * buyer's behaviour, not the shuffle's. The Spearman rank correlation between join time and place
 * is near 0 for a uniform shuffle (standard deviation 1/√(n−1)); |ρ| under 3/√(n−1) passes.
 */
import type { RedisClient } from '../redis/client.ts';
import { createKeys } from '../redis/keys.ts';
import { allShardKeys } from '../redis/shards.ts';
import type { Buyer, Limiter } from './crowd.ts';
import type { HttpClient } from './http.ts';
import { closeRedis, connectRedis } from './redis-nodes.ts';

interface TicketBody {
  status: 'PREQUEUE' | 'WAITING' | 'ADMITTED' | 'CLOSED';
  joinedAt: string;
  chance?: number;
  pass?: string;
  reason?: string;
  admittedTotal: number;
  pollAfterMs: number;
}

export interface QueueStats {
  joined: number;
  prequeue: number;
  admitted: number;
  /** Told by their ticket, while waiting, that no unit was left for them (chance < 1 % or CLOSED SOLD_OUT). */
  learnedEarlyNoChance: number;
  /** Left when the line stopped and the sale showed SOLD_OUT (unpaid units might still come back, to the waitlist first). */
  leftLineStopped: number;
  waitSeconds: { p50: number; p90: number; max: number } | null;
  /** Spearman's ρ between join time and place in line over the pre-queue, read just before the start. */
  fairness: { prequeue: number; spearman: number | null; limit: number | null; uniform: boolean | null };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** The line has not moved for this long: the buyer looks whether anything is still on sale. */
const STOPPED_MS = 2000;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

/** Spearman's ρ of two rankings of the same n items (ranks 0..n−1, no ties). */
export function spearman(a: number[], b: number[]): number {
  const n = a.length;
  const rank = (xs: number[]) => {
    const order = xs.map((x, i) => [x, i] as const).sort((p, q) => p[0] - q[0]);
    const ranks = new Array<number>(n);
    order.forEach(([, i], r) => {
      ranks[i] = r;
    });
    return ranks;
  };
  const ra = rank(a);
  const rb = rank(b);
  let d2 = 0;
  for (let i = 0; i < n; i++) d2 += ((ra[i] ?? 0) - (rb[i] ?? 0)) ** 2;
  return 1 - (6 * d2) / (n * (n * n - 1));
}

export function createQueueCrowd(options: { http: HttpClient; limiter: Limiter; activityId: string }) {
  const { http, limiter, activityId } = options;
  const path = `/api/v1/activities/${activityId}/queue`;
  const joined = new Map<string, { prequeue: boolean; joinedAtMs: number }>();
  const admitted = new Map<string, { waitMs: number }>();
  const left = new Set<string>();
  // Sets: a buyer may give up, come back to re-buy and give up again; each is counted once.
  const learnedEarlyNoChance = new Set<string>();
  const leftLineStopped = new Set<string>();

  async function ask(buyer: Buyer, method: 'POST' | 'GET'): Promise<TicketBody | undefined> {
    const answer = await limiter.run(() => http.call(method, path, { token: buyer.token })).catch(() => undefined);
    return answer && (answer.status === 200 || answer.status === 201) ? (answer.body as { ticket: TicketBody }).ticket : undefined;
  }

  /** Joins the line (before the start: the pre-queue). */
  async function join(buyer: Buyer): Promise<void> {
    const ticket = await ask(buyer, 'POST');
    if (ticket) joined.set(buyer.userId, { prequeue: ticket.status === 'PREQUEUE', joinedAtMs: Date.parse(ticket.joinedAt) });
  }

  /** A buyer who stops waiting leaves the line, so no pass is spent on someone who went away. */
  async function leave(buyer: Buyer): Promise<undefined> {
    left.add(buyer.userId);
    await limiter.run(() => http.call('DELETE', path, { token: buyer.token })).catch(() => undefined);
    return undefined;
  }

  /** Waits in line; resolves with the pass once admitted, or undefined when the buyer stopped waiting. */
  async function waitForTurn(buyer: Buyer): Promise<string | undefined> {
    if (!joined.has(buyer.userId)) await join(buyer);
    else if (left.delete(buyer.userId)) await ask(buyer, 'POST'); // back in line, at the back
    let lastMoved = Date.now();
    let lastAdmittedTotal = -1;
    for (;;) {
      const ticket = await ask(buyer, 'GET');
      if (!ticket) {
        await sleep(1000 + Math.random() * 1000);
        continue;
      }
      if (ticket.status === 'ADMITTED' && ticket.pass) {
        const j = joined.get(buyer.userId);
        if (!admitted.has(buyer.userId)) admitted.set(buyer.userId, { waitMs: j ? Date.now() - j.joinedAtMs : 0 });
        return ticket.pass;
      }
      if (ticket.status === 'CLOSED') {
        if (ticket.reason === 'SOLD_OUT') learnedEarlyNoChance.add(buyer.userId);
        return undefined;
      }
      if (ticket.status === 'WAITING' && ticket.chance !== undefined && ticket.chance < 0.01) {
        learnedEarlyNoChance.add(buyer.userId);
        return leave(buyer);
      }
      if (ticket.admittedTotal !== lastAdmittedTotal) {
        lastAdmittedTotal = ticket.admittedTotal;
        lastMoved = Date.now();
      } else if (ticket.status === 'WAITING' && Date.now() - lastMoved > STOPPED_MS) {
        const detail = await limiter.run(() => http.call('GET', `/api/v1/activities/${activityId}`)).catch(() => undefined);
        if ((detail?.body as { activity?: { status?: string } } | undefined)?.activity?.status === 'SOLD_OUT') {
          leftLineStopped.add(buyer.userId);
          return leave(buyer);
        }
        lastMoved = Date.now();
      }
      await sleep(ticket.pollAfterMs);
    }
  }

  /** Every pre-queue ticket's (join time, place in line), read from the server just before the start. */
  let placesBeforeStart: Array<{ joinedAtMs: number; place: number }> = [];
  async function snapshotBeforeStart(server: { redisUrl: string; redisPrefix: string; shards: number }): Promise<void> {
    const redis: RedisClient = await connectRedis(server.redisUrl);
    try {
      const rows: Array<{ joinedAtMs: number; place: number }> = [];
      for (const k of allShardKeys(createKeys(server.redisPrefix), activityId, server.shards)) {
        const [line, tickets] = await Promise.all([redis.zrange(k.queue.line, 0, -1, 'WITHSCORES'), redis.hgetall(k.queue.tickets)]);
        for (let i = 0; i + 1 < line.length; i += 2) {
          const userId = line[i] ?? '';
          if (!joined.get(userId)?.prequeue) continue;
          rows.push({ joinedAtMs: Number((tickets[userId] ?? '').split('|')[0]) || 0, place: Number(line[i + 1]) });
        }
      }
      placesBeforeStart = rows;
    } finally {
      await closeRedis(redis);
    }
  }

  function stats(): QueueStats {
    const waits = [...admitted.values()].map((a) => a.waitMs / 1000).sort((a, b) => a - b);
    const pre = placesBeforeStart;
    const n = pre.length;
    // A tiny random part breaks ties of join time (same millisecond) without bias.
    const jitter = () => Math.random() / 1000;
    const rho = n >= 10 ? spearman(pre.map((t) => t.joinedAtMs + jitter()), pre.map((t) => t.place)) : null;
    const limit = n >= 10 ? 3 / Math.sqrt(n - 1) : null;
    return {
      joined: joined.size,
      prequeue: [...joined.values()].filter((j) => j.prequeue).length,
      admitted: admitted.size,
      learnedEarlyNoChance: learnedEarlyNoChance.size,
      leftLineStopped: leftLineStopped.size,
      waitSeconds: waits.length ? { p50: percentile(waits, 50), p90: percentile(waits, 90), max: waits.at(-1) ?? 0 } : null,
      fairness: {
        prequeue: n,
        spearman: rho === null ? null : Math.round(rho * 1000) / 1000,
        limit: limit === null ? null : Math.round(limit * 1000) / 1000,
        uniform: rho === null || limit === null ? null : Math.abs(rho) < limit,
      },
    };
  }

  /** Counts for the live log, without the server's record. */
  const counts = () => ({ joined: joined.size, prequeue: [...joined.values()].filter((j) => j.prequeue).length });

  return { join, waitForTurn, snapshotBeforeStart, stats, counts };
}
