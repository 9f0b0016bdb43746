/**
 * The waitlist (候补, docs/api.md "Waitlist"). State lives in Redis beside the activity's stock (same
 * hash tag) and every step that moves a unit is one Lua script: join only while sold out; a pass
 * (after each return, and periodically) expires unused offers and offers held or returned units to
 * the next waiting users before the crowd can buy them; an offered user's purchase takes the held
 * unit (waitlistClaim). Offers are announced on pub/sub: the owner's WebSocket is told, and every
 * instance knows for a while that this activity has offers, so only then does the purchase path
 * look for one (the hot path of a sale without a waitlist pays nothing).
 */
import type { Activity } from '../domain/activity.ts';
import { AppError } from '../domain/errors.ts';
import type { Logger } from '../platform/log.ts';
import type { Metrics } from '../platform/metrics.ts';
import type { RedisClient } from '../redis/client.ts';
import type { Keys } from '../redis/keys.ts';
import { type OfferPass, waitlistClaim, waitlistJoin, waitlistLeave, waitlistOffer, waitlistView } from '../redis/waitlist.ts';
import type { ReserveInput, ReserveResult } from '../redis/reservations.ts';
import type { ActivityCache } from '../inventory/activity-cache.ts';
import type { PubSub } from '../platform/pubsub.ts';
import type { SoldOutFlags } from '../inventory/sold-out.ts';

export interface WaitlistEntry {
  position?: number;
  status: 'WAITING' | 'OFFERED' | 'EXPIRED';
  offerExpiresAt?: string;
}

export interface WaitlistEvent {
  activityId: string;
  /** Users whose entry changed, with the new entry (offered or expired). */
  changes: Array<{ userId: string; waitlist: WaitlistEntry & { activityId: string } }>;
}

export interface Waitlist {
  offerMs: number;
  join(userId: string, activityId: string): Promise<WaitlistEntry>;
  get(userId: string, activityId: string): Promise<WaitlistEntry>;
  leave(userId: string, activityId: string): Promise<void>;
  /** One pass for the activity (expire, offer, give back), announced. */
  pass(activity: Pick<Activity, 'id' | 'segments' | 'shards'>): Promise<OfferPass>;
  /** Announces what a pass (run elsewhere, e.g. chained with a restock) did. */
  announcePass(activityId: string, pass: OfferPass): Promise<void>;
  /** True while this activity may have live offers (cheap, local). */
  offering(activityId: string): boolean;
  /** The purchase of an offered user; undefined when the user holds no live offer. */
  claim(input: ReserveInput): Promise<ReserveResult | undefined>;
  onEvent(handler: (event: WaitlistEvent) => void): void;
}

export interface WaitlistDeps {
  redis: RedisClient;
  keys: Keys;
  pubsub: PubSub;
  activities: ActivityCache;
  soldOut: SoldOutFlags;
  offerSeconds: number;
  log: Logger;
  metrics?: Pick<Metrics, 'waitlistOffers'>;
  now?: () => number;
}

export async function createWaitlist(deps: WaitlistDeps): Promise<Waitlist> {
  const { redis, keys, pubsub, activities, soldOut } = deps;
  const now = deps.now ?? Date.now;
  const offerMs = deps.offerSeconds * 1000;
  const offeringUntil = new Map<string, number>();
  const handlers = new Set<(event: WaitlistEvent) => void>();

  await pubsub.subscribe(keys.waitlistChannel, (message) => {
    const event = JSON.parse(message) as WaitlistEvent;
    if (event.changes.some((c) => c.waitlist.status === 'OFFERED')) {
      // A little past the offer window, so a claim right at the deadline still looks.
      offeringUntil.set(event.activityId, now() + offerMs + 2000);
    }
    for (const handler of handlers) handler(event);
  });

  async function requireActivity(activityId: string): Promise<Activity> {
    const activity = await activities.get(activityId);
    if (!activity) throw new AppError('NOT_FOUND', 'activity not found');
    return activity;
  }

  // Every pass, run here or chained elsewhere (a cancellation's restock), is announced once: count here.
  async function announcePass(activityId: string, pass: OfferPass): Promise<void> {
    if (pass.offered.length > 0) deps.metrics?.waitlistOffers.inc(pass.offered.length);
    const changes: WaitlistEvent['changes'] = [
      ...pass.offered.map(({ userId, expiresAtMs }) => ({
        userId,
        waitlist: { activityId, status: 'OFFERED' as const, offerExpiresAt: new Date(expiresAtMs).toISOString() },
      })),
      ...pass.expired.map((userId) => ({ userId, waitlist: { activityId, status: 'EXPIRED' as const } })),
    ];
    if (changes.length > 0) await pubsub.publish(keys.waitlistChannel, JSON.stringify({ activityId, changes } satisfies WaitlistEvent));
    if (pass.returnedToSale > 0) await soldOut.announceReturned(activityId);
  }

  async function view(userId: string, activity: Activity): Promise<WaitlistEntry | undefined> {
    const v = await waitlistView(redis, keys, activity.id, userId, activity.shards);
    if (v.position !== undefined) return { position: v.position, status: 'WAITING' };
    if (v.offerExpiresAtMs !== undefined) {
      if (v.offerExpiresAtMs > now()) return { status: 'OFFERED', offerExpiresAt: new Date(v.offerExpiresAtMs).toISOString() };
      return { status: 'EXPIRED' };
    }
    if (v.expired) return { status: 'EXPIRED' };
    return undefined;
  }

  async function pass(activity: Pick<Activity, 'id' | 'segments' | 'shards'>): Promise<OfferPass> {
    const result = await waitlistOffer(redis, keys, activity.id, activity.segments, now(), offerMs, activity.shards);
    await announcePass(activity.id, result);
    return result;
  }

  return {
    offerMs,

    async join(userId, activityId) {
      const activity = await requireActivity(activityId);
      const nowMs = now();
      if (nowMs >= activity.endAt.getTime()) throw new AppError('ENDED', 'the sale has ended');
      if (nowMs < activity.startAt.getTime()) throw new AppError('NOT_SOLD_OUT', 'the sale has not started');
      const result = await waitlistJoin(redis, keys, activityId, userId, nowMs, activity.shards);
      switch (result.kind) {
        case 'waiting':
          return { position: result.position, status: 'WAITING' };
        case 'offered':
          return { status: 'OFFERED', offerExpiresAt: new Date(result.expiresAtMs).toISOString() };
        case 'not-sold-out':
          throw new AppError('NOT_SOLD_OUT', 'units are on sale: buy instead');
        default:
          throw new AppError('BUSY', 'the sale is being prepared, retry shortly', { retryAfter: 1 });
      }
    },

    async get(userId, activityId) {
      const activity = await requireActivity(activityId);
      const entry = await view(userId, activity);
      if (!entry) throw new AppError('NOT_FOUND', 'not on the waitlist');
      return entry;
    },

    async leave(userId, activityId) {
      const activity = await requireActivity(activityId);
      await waitlistLeave(redis, keys, activityId, userId, activity.shards);
      // An offer the user dropped passes to the next at once.
      await pass(activity);
    },

    pass,

    announcePass,

    offering(activityId) {
      const until = offeringUntil.get(activityId);
      if (until === undefined) return false;
      if (until > now()) return true;
      offeringUntil.delete(activityId);
      return false;
    },

    claim: (input) => waitlistClaim(redis, keys, input),

    onEvent(handler) {
      handlers.add(handler);
    },
  };
}
