/**
 * The waiting room (排队) as the domain sees it: an activity's settings, a ticket's states, and the
 * pure rules — the chance a waiting person still gets a unit, when to ask next, the automatic
 * admission rate. No I/O here: src/waiting-room/ drives them against Redis.
 */

export type WaitingRoomMode = 'off' | 'fifo' | 'random';

export interface WaitingRoomSettings {
  /** off: the open rush of before; fifo: first come first served; random: the pre-queue is shuffled at startAt. */
  mode: WaitingRoomMode;
  /** The pre-queue opens this many seconds before startAt. */
  prequeueSeconds: number;
  /** People admitted per second; 0 = automatic (units still on sale, the share who buy, the measured drain). */
  admitPerSecond: number;
  /** How long an admitted person's pass lasts. */
  passSeconds: number;
  /** How long a silent visitor (no poll) keeps their place. */
  keepSeconds: number;
  /** Admission stopped by an operator; joining and waiting go on. */
  paused: boolean;
}

export const WAITING_ROOM_OFF: WaitingRoomSettings = {
  mode: 'off',
  prequeueSeconds: 900,
  admitPerSecond: 0,
  passSeconds: 120,
  keepSeconds: 60,
  paused: false,
};

export const WAITING_ROOM_LIMITS = {
  prequeueSeconds: { minimum: 0, maximum: 86_400 },
  admitPerSecond: { minimum: 0, maximum: 100_000 },
  passSeconds: { minimum: 5, maximum: 3600 },
  keepSeconds: { minimum: 5, maximum: 3600 },
} as const;

export const hasWaitingRoom = (settings: Pick<WaitingRoomSettings, 'mode'> | undefined): boolean =>
  settings !== undefined && settings.mode !== 'off';

/** When the pre-queue opens. */
export const prequeueOpensAtMs = (startAt: Date, settings: WaitingRoomSettings): number => startAt.getTime() - settings.prequeueSeconds * 1000;

export type TicketStatus = 'PREQUEUE' | 'WAITING' | 'ADMITTED' | 'CLOSED';

/**
 * Why a ticket closed: SOLD_OUT (nothing can come back), ENDED (the sale is over), ABANDONED (no
 * poll for keepSeconds), PASS_EXPIRED (admitted, pass unused in time), LEFT (the person left),
 * BOUGHT (the pass reserved a purchase).
 */
export type TicketCloseReason = 'SOLD_OUT' | 'ENDED' | 'ABANDONED' | 'PASS_EXPIRED' | 'LEFT' | 'BOUGHT';

/** The standard normal CDF (Abramowitz–Stegun 7.1.26, error < 1.5e-7): enough for a percentage. */
function normalCdf(z: number): number {
  const t = 1 / (1 + 0.3275911 * (Math.abs(z) / Math.SQRT2));
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-(z * z) / 2);
  return z >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}

/**
 * The chance that a person with `ahead` people before them still gets a unit, when `units` are on
 * sale or may come back and each admitted person buys with probability `buyShare`: the buyers
 * ahead are Binomial(ahead, buyShare), and this person is served if fewer than `units` of them buy
 * (normal approximation, continuity-corrected; exact at the edges).
 */
export function chanceOfUnit(units: number, ahead: number, buyShare: number): number {
  if (units <= 0) return 0;
  if (ahead <= 0) return 1;
  const p = Math.min(1, Math.max(0.001, buyShare));
  if (ahead * p < units - 8 * Math.sqrt(ahead * p * (1 - p)) - 1) return 1;
  const mean = ahead * p;
  const sd = Math.sqrt(ahead * p * (1 - p));
  if (sd === 0) return mean < units ? 1 : 0;
  const chance = normalCdf((units - 0.5 - mean) / sd);
  return Math.round(Math.min(1, Math.max(0, chance)) * 1000) / 1000;
}

/**
 * The share of admitted people who buy, smoothed towards one half while few have been admitted:
 * a sale's first seconds should not swing the estimate (and so everyone's chance) wildly.
 */
export function buyShare(admitted: number, bought: number): number {
  const PRIOR = 10;
  return Math.min(1, (bought + PRIOR * 0.5) / (admitted + PRIOR));
}

export const AUTO_RATE = { start: 50, minimum: 5, maximum: 10_000 } as const;

/**
 * Automatic admission, how many: never more people out with a pass than the units on sale can
 * serve (units / buyShare, plus one). Nothing while nothing is on open sale.
 */
export function autoRoom(input: { onSale: number; outstandingPasses: number; buyShare: number }): number {
  if (input.onSale <= 0) return 0;
  const servable = Math.ceil(input.onSale / Math.max(0.05, input.buyShare)) + 1;
  return Math.max(0, servable - input.outstandingPasses);
}

/**
 * Automatic admission, how fast (once a second): the pipeline's backlog — reservations made but
 * not yet settled in MySQL — says whether it drains what the admitted people buy. While the
 * backlog stays under one second of admissions the rate grows by half; past four seconds it halves.
 * So the pace finds what the pipeline drains instead of a guess, and a slow MySQL slows the line.
 */
export function nextAutoRate(rate: number, backlog: number): number {
  if (backlog <= rate) return Math.min(AUTO_RATE.maximum, Math.ceil(rate * 1.5));
  if (backlog > rate * 4) return Math.max(AUTO_RATE.minimum, Math.floor(rate / 2));
  return rate;
}

/**
 * When a waiting client should ask again: in the pre-queue just after the start; then about when
 * its place may have moved by a tenth, never
 * later than a third of the keep time (the poll is also its heartbeat), ±20 % jitter so a crowd
 * told the same thing does not come back in one burst.
 */
export function pollAfterMs(input: { etaSeconds: number | undefined; keepSeconds: number; untilStartMs?: number; random?: () => number }): number {
  const random = input.random ?? Math.random;
  const ceiling = (input.keepSeconds * 1000) / 3;
  // In the pre-queue: just after the start, when places are given (spread by the jitter).
  const untilStart = input.untilStartMs !== undefined && input.untilStartMs > 0 ? input.untilStartMs + 1000 : undefined;
  const base =
    untilStart !== undefined
      ? Math.min(ceiling, untilStart)
      : input.etaSeconds === undefined
        ? ceiling
        : Math.min(ceiling, Math.max(1000, (input.etaSeconds * 1000) / 10));
  return Math.round(base * (0.8 + 0.4 * random()));
}
