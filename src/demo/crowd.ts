/**
 * The crowd: every buyer has its own JWT (signed locally with the secret the demo gave the
 * service). Most click once and respect Retry-After; some click twice (two requestIds), some retry
 * the same requestId (a lost answer), some are bots that ignore Retry-After and hammer. Every
 * answer is recorded with its latency in an HDR histogram per outcome.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createSigner } from 'fast-jwt';
import * as hdr from 'hdr-histogram-js';
import { type Answer, errorCode, type HttpClient } from './http.ts';

export type BuyerKind = 'normal' | 'double-click' | 'same-request-retry' | 'bot';

export interface Buyer {
  userId: string;
  token: string;
  kind: BuyerKind;
  /** Order ids this buyer was answered 202 for. */
  orders: Set<string>;
  /** Last refusal this buyer saw (SOLD_OUT buyers are the ones who wait for returned units). */
  lastRefusal?: string;
  /** The waiting room's pass once admitted (sent as X-Seckill-Pass). */
  pass?: string;
}

/** A counting semaphore: caps requests in flight without making sleeping buyers hold a slot. */
export class Limiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly max: number;
  constructor(max: number) {
    this.max = max;
  }
  async run<T>(fn: () => Promise<T>): Promise<T> {
    // while, not if: a caller arriving between a release and the woken waiter's turn may take the slot first.
    while (this.active >= this.max) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Everything the crowd saw, for the live display and the report. */
export class Recorder {
  readonly startedAt = Date.now();
  requests = 0;
  readonly outcomes = new Map<string, number>();
  readonly histograms = new Map<string, hdr.Histogram>();
  readonly all = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
  /** Distinct order ids answered 202 → who asked. */
  readonly accepted = new Map<string, { userId: string; requestId: string; atMs: number }>();
  private readonly answers = new Map<string, string>();
  idempotencyMismatches = 0;
  firstSoldOutMs: number | undefined;
  lastAcceptedMs: number | undefined;

  outcomeOf(answer: Answer): string {
    if (answer.status === 202) return 'ACCEPTED';
    return errorCode(answer) ?? `HTTP_${answer.status}`;
  }

  record(outcome: string, latencyUs: number): void {
    this.requests++;
    this.outcomes.set(outcome, (this.outcomes.get(outcome) ?? 0) + 1);
    let h = this.histograms.get(outcome);
    if (!h) {
      h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
      this.histograms.set(outcome, h);
    }
    const value = Math.max(1, latencyUs);
    h.recordValue(value);
    this.all.recordValue(value);
  }

  accept(userId: string, requestId: string, orderId: string): void {
    const key = `${userId}|${requestId}`;
    const previous = this.answers.get(key);
    if (previous !== undefined && previous !== orderId) this.idempotencyMismatches++;
    this.answers.set(key, orderId);
    if (!this.accepted.has(orderId)) {
      const atMs = Date.now() - this.startedAt;
      this.accepted.set(orderId, { userId, requestId, atMs });
      this.lastAcceptedMs = atMs;
    }
  }
}

export interface CrowdOptions {
  http: HttpClient;
  limiter: Limiter;
  recorder: Recorder;
  activityId: string;
  /** Solves the anti-bot challenge into the purchase body when the activity requires one. */
  challenge?: (buyer: Buyer) => Promise<{ challengeId: string; nonce: string } | undefined>;
}

export function makeBuyers(count: number, jwtSecret: string, runId: string): Buyer[] {
  const sign = createSigner({ key: jwtSecret, algorithm: 'HS256', expiresIn: 3_600_000 });
  const buyers: Buyer[] = [];
  for (let i = 0; i < count; i++) {
    const userId = `d${runId}_${i}`;
    // A fixed mix, spread evenly through the crowd: 5 % bots, 10 % double-clickers, 10 % retriers.
    const slot = i % 20;
    const kind: BuyerKind = slot === 0 ? 'bot' : slot <= 2 ? 'double-click' : slot <= 4 ? 'same-request-retry' : 'normal';
    buyers.push({ userId, token: sign({ sub: userId }), kind, orders: new Set() });
  }
  return buyers;
}

export const newRequestId = () => randomBytes(9).toString('base64url');

/** Outcomes after which asking again with the same requestId cannot help. */
const FINAL = new Set([
  'ACCEPTED',
  'SOLD_OUT',
  'LIMIT_EXCEEDED',
  'ENDED',
  'NOT_FOUND',
  'UNAUTHORIZED',
  'INVALID_REQUEST',
  'CHALLENGE_FAILED',
  'PASS_REQUIRED',
  'PASS_INVALID',
  'PASS_EXPIRED',
]);

export function createCrowd(options: CrowdOptions) {
  const { http, limiter, recorder, activityId } = options;
  const path = `/api/v1/activities/${activityId}/purchase`;

  /** One purchase request, recorded; returns the outcome. */
  async function once(buyer: Buyer, requestId: string): Promise<{ outcome: string; answer: Answer | undefined }> {
    const body: Record<string, unknown> = { requestId, quantity: 1 };
    const challenge = options.challenge ? await options.challenge(buyer) : undefined;
    if (challenge) body['challenge'] = challenge;
    let answer: Answer;
    try {
      answer = await limiter.run(() => http.call('POST', path, { token: buyer.token, body, ...(buyer.pass ? { headers: { 'x-seckill-pass': buyer.pass } } : {}) }));
    } catch {
      recorder.record('NETWORK_ERROR', 0);
      return { outcome: 'NETWORK_ERROR', answer: undefined };
    }
    const outcome = recorder.outcomeOf(answer);
    recorder.record(outcome, answer.latencyUs);
    if (outcome === 'ACCEPTED') {
      const orderId = String((answer.body as { orderId?: unknown }).orderId);
      recorder.accept(buyer.userId, requestId, orderId);
      buyer.orders.add(orderId);
    } else if (outcome === 'SOLD_OUT') {
      recorder.firstSoldOutMs ??= Date.now() - recorder.startedAt;
    }
    if (outcome !== 'ACCEPTED' && FINAL.has(outcome)) buyer.lastRefusal = outcome;
    return { outcome, answer };
  }

  /** A polite client: waits what Retry-After says (or a short backoff), same requestId, bounded. */
  async function polite(buyer: Buyer, requestId: string, maxTries = 6): Promise<string> {
    let outcome = 'NONE';
    for (let attempt = 0; attempt < maxTries; attempt++) {
      const r = await once(buyer, requestId);
      outcome = r.outcome;
      if (FINAL.has(outcome)) return outcome;
      const waitS = r.answer?.retryAfterSeconds ?? 0.2 * 2 ** attempt;
      await sleep(waitS * 1000 * (0.8 + Math.random() * 0.4));
    }
    return outcome;
  }

  /** A bot: ignores Retry-After, hammers, and tries fresh requestIds after SOLD_OUT too. */
  async function bot(buyer: Buyer): Promise<void> {
    let requestId = newRequestId();
    for (let attempt = 0; attempt < 12; attempt++) {
      const { outcome } = await once(buyer, requestId);
      if (outcome === 'ACCEPTED' || outcome === 'LIMIT_EXCEEDED') return;
      if (outcome === 'SOLD_OUT') requestId = newRequestId();
    }
  }

  /** The buying phase's behaviour of one buyer. */
  async function buy(buyer: Buyer): Promise<void> {
    switch (buyer.kind) {
      case 'bot':
        return bot(buyer);
      case 'double-click':
        // Two clicks, two requestIds, at once: the per-user limit decides, never two units.
        await Promise.all([polite(buyer, newRequestId()), polite(buyer, newRequestId())]);
        return;
      case 'same-request-retry': {
        // The answer "got lost": the same requestId again must give the same order, nothing more.
        const requestId = newRequestId();
        const outcome = await polite(buyer, requestId);
        if (outcome === 'ACCEPTED') await polite(buyer, requestId);
        return;
      }
      default:
        await polite(buyer, newRequestId());
    }
  }

  return { buy, polite, once };
}

/** Finds a nonce such that SHA-256(prefix + nonce) starts with `difficulty` zero bits. */
export function solveChallenge(prefix: string, difficulty: number): string {
  for (let n = 0; ; n++) {
    const nonce = n.toString(36);
    const digest = createHash('sha256').update(prefix + nonce).digest();
    let bits = difficulty;
    let ok = true;
    for (let i = 0; bits > 0; i++, bits -= 8) {
      const byte = digest[i] ?? 0;
      const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
      if ((byte & mask) !== 0) {
        ok = false;
        break;
      }
    }
    if (ok) return nonce;
  }
}
