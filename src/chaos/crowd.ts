/**
 * A crowd of buyers that keeps buying through a fault, the way real clients behave: each buyer has
 * its own JWT; it retries a 503 BUSY, a 429 or a network error with the SAME requestId (honouring
 * Retry-After), within a bounded number of attempts and time; some double-click (two concurrent
 * requests, one requestId); some send the same requestId again a moment after their answer (as
 * if it was lost); some are greedy and try one request more than the per-user limit, spaced out
 * so their requests straddle the fault. Every answer is recorded with its wall-clock
 * send and receive times, which the checks use to tell a false SOLD_OUT from a true one.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Limiter } from '../demo/crowd.ts';
import { Random } from './random.ts';

export type ClickKind = 'single' | 'double-click' | 'greedy' | 'replay';

/** One HTTP answer (status 0: no answer — refused, reset or timed out). */
export interface Answer {
  status: number;
  code?: string;
  orderId?: string;
  /** The Retry-After header, as sent. */
  retryAfter: string | null;
  sentAt: number;
  doneAt: number;
  error?: string;
}

/** One click: a request and its retries, all with one requestId. */
export interface Click {
  userId: string;
  requestId: string;
  kind: ClickKind;
  answers: Answer[];
  /** The answer that ended the click (anything but a retryable one), if it ended before the bounds. */
  final?: Answer;
}

export interface CrowdOptions {
  url: string;
  activityId: string;
  /** How many buyers may arrive in all. */
  buyers: number;
  /** New buyers per second. */
  arrivalsPerSec: number;
  /** HTTP requests in flight at most (a buyer waiting to retry holds no slot). */
  concurrency: number;
  limitPerUser: number;
  /** Per click: attempts and time before the buyer gives up. */
  maxAttempts?: number;
  maxClickMs?: number;
  /** Per HTTP request. */
  requestTimeoutMs?: number;
  /** Greedy and replaying buyers wait this long between their requests. */
  greedyGapMs?: number;
  /** A signed JWT for the user. */
  token: (userId: string) => string;
  /** Shares of buyers who double-click, are greedy, replay; the rest click once. */
  mix?: { doubleClick: number; greedy: number; replay: number };
  /** Arrivals 3 s on, 2 s off. */
  waves?: boolean;
  /** Draws each buyer's kind, so a seed gives the same crowd. */
  seed?: number;
}

const RETRYABLE = new Set([0, 429, 503]);

export class Crowd {
  readonly clicks: Click[] = [];
  /** Buyers that arrived (the rest were never needed). */
  arrived = 0;
  private readonly options: Required<CrowdOptions>;
  private readonly limiter: Limiter;
  private stopping = false;
  private running: Promise<void> | undefined;

  constructor(options: CrowdOptions) {
    this.options = {
      maxAttempts: 60,
      maxClickMs: 45_000,
      requestTimeoutMs: 20_000,
      greedyGapMs: 1500,
      mix: { doubleClick: 0.1, greedy: 0.1, replay: 0.1 },
      waves: false,
      seed: 1,
      ...options,
    };
    this.limiter = new Limiter(options.concurrency);
  }

  /**
   * Buyers start arriving (new ones, continuing the numbering of an earlier wave) until `until`
   * returns true (checked before each arrival), stop() is called, or every buyer has arrived.
   */
  start(until: () => boolean): void {
    this.stopping = false;
    this.running = this.arrive(until);
  }

  /** Waits until the arrivals ended and every buyer there finished (bounded by the per-click bounds). */
  async finished(): Promise<void> {
    await this.running;
  }

  /** Stops new arrivals and waits for the buyers already there. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.running;
  }

  get leftOver(): number {
    return this.options.buyers - this.arrived;
  }

  /** Distinct order ids answered 202 → who asked. */
  accepted(): Map<string, { userId: string; requestId: string }> {
    const accepted = new Map<string, { userId: string; requestId: string }>();
    for (const click of this.clicks) {
      for (const answer of click.answers) {
        if (answer.status === 202 && answer.orderId) accepted.set(answer.orderId, { userId: click.userId, requestId: click.requestId });
      }
    }
    return accepted;
  }

  /** Every answer of every click, flattened. */
  answers(): Array<Answer & { click: Click }> {
    return this.clicks.flatMap((click) => click.answers.map((answer) => ({ ...answer, click })));
  }

  private async arrive(until: () => boolean): Promise<void> {
    const buyers: Array<Promise<void>> = [];
    const gap = 1000 / this.options.arrivalsPerSec;
    const startedAt = Date.now();
    for (let n = 0; this.arrived < this.options.buyers; n++) {
      if (this.stopping || until()) break;
      buyers.push(this.buyer(this.arrived++));
      // Paced by the clock, not by the sleeps, so a slow event loop does not slow the arrivals down.
      let due = startedAt + (n + 1) * gap;
      // In waves: 3 s of arrivals at the rate, then 2 s of none.
      if (this.options.waves) due += Math.floor((n + 1) * gap / 3000) * 2000;
      while (due > Date.now() && !this.stopping) await sleep(Math.max(1, Math.min(200, due - Date.now())));
    }
    await Promise.all(buyers);
  }

  /** Buyer i's kind, from the seed alone. */
  kindOf(i: number): ClickKind {
    const { doubleClick, greedy, replay } = this.options.mix;
    const roll = new Random(this.options.seed ^ Math.imul(i + 1, 0x9e3779b1)).next();
    if (roll < greedy) return 'greedy';
    if (roll < greedy + replay) return 'replay';
    if (roll < greedy + replay + doubleClick) return 'double-click';
    return 'single';
  }

  private async buyer(i: number): Promise<void> {
    const userId = `buyer-${i}`;
    const auth = `Bearer ${this.options.token(userId)}`;
    const kind = this.kindOf(i);
    if (kind === 'greedy') {
      // Greedy: one more than the limit, in turn, each retried to its end.
      for (let k = 0; k <= this.options.limitPerUser; k++) {
        if (k > 0) {
          await sleep(this.options.greedyGapMs);
          if (this.stopping) return;
        }
        await this.click(userId, auth, `r-${i}-${k}`, 'greedy');
      }
    } else if (kind === 'replay') {
      // A lost answer: the same requestId again a little later must get the same answer.
      await this.click(userId, auth, `r-${i}`, 'single');
      await sleep(this.options.greedyGapMs);
      await this.click(userId, auth, `r-${i}`, 'replay');
    } else if (kind === 'double-click') {
      await Promise.all([this.click(userId, auth, `r-${i}`, 'double-click'), this.click(userId, auth, `r-${i}`, 'double-click')]);
    } else {
      await this.click(userId, auth, `r-${i}`, 'single');
    }
  }

  private async click(userId: string, auth: string, requestId: string, kind: ClickKind): Promise<void> {
    const click: Click = { userId, requestId, kind, answers: [] };
    this.clicks.push(click);
    const first = Date.now();
    for (let attempt = 0; attempt < this.options.maxAttempts && Date.now() - first < this.options.maxClickMs; attempt++) {
      const answer = await this.limiter.run(() => this.send(auth, requestId));
      click.answers.push(answer);
      if (!RETRYABLE.has(answer.status)) {
        click.final = answer;
        return;
      }
      const advised = Number(answer.retryAfter);
      // Honour Retry-After (seconds), capped so the whole run stays bounded; no answer at all: a short pause.
      const waitMs = Number.isFinite(advised) && advised > 0 ? Math.min(advised * 1000, 3000) : 250;
      await sleep(waitMs * (0.75 + Math.random() * 0.5));
    }
  }

  private async send(auth: string, requestId: string): Promise<Answer> {
    const sentAt = Date.now();
    try {
      const response = await fetch(`${this.options.url}/api/v1/activities/${this.options.activityId}/purchase`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: auth },
        body: JSON.stringify({ requestId, quantity: 1 }),
        signal: AbortSignal.timeout(this.options.requestTimeoutMs),
      });
      const text = await response.text();
      let body: { orderId?: string; error?: { code?: string } } = {};
      try {
        body = JSON.parse(text) as typeof body;
      } catch {
        // not JSON: the status says enough
      }
      const answer: Answer = { status: response.status, retryAfter: response.headers.get('retry-after'), sentAt, doneAt: Date.now() };
      if (body.orderId !== undefined) answer.orderId = String(body.orderId);
      if (body.error?.code !== undefined) answer.code = body.error.code;
      return answer;
    } catch (error) {
      return { status: 0, retryAfter: null, sentAt, doneAt: Date.now(), error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
    }
  }
}
