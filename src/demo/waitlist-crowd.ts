/**
 * The demo's waitlist (候补) buyers. A buyer answered SOLD_OUT joins right away, while the sale
 * is sold out (docs/api.md: joining is refused NOT_SOLD_OUT while units are on open sale; joining
 * after the payment phase began was too late, as cancellations had already put units back).
 * Each poll reads every live entry: an OFFERED buyer buys with the normal purchase, except one in
 * five who lets the offer run out, so the report also shows offers expiring and passing on.
 */
import type { Buyer, Limiter } from './crowd.ts';
import { errorCode, type HttpClient } from './http.ts';

export interface WaitlistStats {
  /** How many SOLD_OUT buyers the demo sends to the waitlist. */
  target: number;
  joined: number;
  /** Joins answered 409 NOT_SOLD_OUT (units were back on open sale at that moment). */
  refusedNotSoldOut: number;
  /** Other refusals, by code. */
  refusedOther: Record<string, number>;
  offered: number;
  purchasedFromOffer: number;
  /** Offers taken but the purchase was refused (should stay 0: an offer holds its unit). */
  offerPurchaseRefused: number;
  /** Offers the demo let run out on purpose, and the entries then seen EXPIRED. */
  offersIgnored: number;
  expired: number;
  stillWaiting: number;
}

type State = 'waiting' | 'ignoring' | 'buying' | 'bought' | 'refused' | 'expired' | 'gone';

export interface WaitlistCrowdOptions {
  http: HttpClient;
  limiter: Limiter;
  activityId: string;
  target: number;
}

/** Buys for an offered buyer with the normal purchase; true when answered 202. */
export type TakeOffer = (buyer: Buyer) => Promise<boolean>;

export function createWaitlistCrowd(options: WaitlistCrowdOptions) {
  const { http, limiter, activityId } = options;
  const path = `/api/v1/activities/${activityId}/waitlist`;
  const states = new Map<Buyer, State>();
  const buying: Array<Promise<void>> = [];
  let reserved = 0;
  const stats: WaitlistStats = {
    target: options.target,
    joined: 0,
    refusedNotSoldOut: 0,
    refusedOther: {},
    offered: 0,
    purchasedFromOffer: 0,
    offerPurchaseRefused: 0,
    offersIgnored: 0,
    expired: 0,
    stillWaiting: 0,
  };

  const call = (buyer: Buyer, method: string) => limiter.run(() => http.call(method, path, { token: buyer.token }));

  return {
    stats,
    /** Joins for a buyer just answered SOLD_OUT, until the target is reached. */
    async join(buyer: Buyer): Promise<void> {
      if (reserved >= options.target) return;
      reserved++;
      const answer = await call(buyer, 'POST').catch(() => undefined);
      if (answer?.status === 201) {
        states.set(buyer, 'waiting');
        stats.joined++;
        return;
      }
      reserved--; // the slot goes to the next SOLD_OUT buyer
      const code = answer ? (errorCode(answer) ?? `HTTP_${answer.status}`) : 'NETWORK_ERROR';
      if (code === 'NOT_SOLD_OUT') stats.refusedNotSoldOut++;
      else stats.refusedOther[code] = (stats.refusedOther[code] ?? 0) + 1;
    },
    joined(buyer: Buyer): boolean {
      return states.has(buyer);
    },
    /** Reads every live entry once and acts on offers. */
    async poll(takeOffer: TakeOffer): Promise<void> {
      const live = [...states].filter(([, s]) => s === 'waiting' || s === 'ignoring').map(([b]) => b);
      await Promise.all(
        live.map(async (buyer) => {
          const answer = await call(buyer, 'GET').catch(() => undefined);
          if (!answer) return;
          const state = states.get(buyer);
          if (answer.status === 404) {
            states.set(buyer, 'gone');
            return;
          }
          const status = (answer.body as { waitlist?: { status?: string } } | undefined)?.waitlist?.status;
          if (status === 'OFFERED' && state === 'waiting') {
            stats.offered++;
            // Every fifth joiner walks away from the offer: it must expire and pass to the next.
            if (stats.offered % 5 === 0) {
              stats.offersIgnored++;
              states.set(buyer, 'ignoring');
              return;
            }
            states.set(buyer, 'buying');
            buying.push(
              takeOffer(buyer).then((accepted) => {
                states.set(buyer, accepted ? 'bought' : 'refused');
                if (accepted) stats.purchasedFromOffer++;
                else stats.offerPurchaseRefused++;
              }),
            );
          } else if (status === 'EXPIRED') {
            stats.expired++;
            states.set(buyer, 'expired');
          }
        }),
      );
    },
    /** True while an entry may still turn into an offer, a purchase or an expiry. */
    active(): boolean {
      for (const s of states.values()) if (s === 'ignoring' || s === 'buying') return true;
      return false;
    },
    /** Waits for the purchases started from offers; counts who is still waiting. */
    async finish(): Promise<WaitlistStats> {
      await Promise.all(buying);
      stats.stillWaiting = [...states.values()].filter((s) => s === 'waiting').length;
      return stats;
    },
  };
}
