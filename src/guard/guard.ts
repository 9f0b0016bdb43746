/**
 * Holding the line (README, "Holding the line"), assembled once per process: the per-node Redis
 * circuit breakers, the rate limiter and the anti-bot check (the purchase's admission checks), and
 * load shedding. What a purchase does while a circuit is open is the purchase path's business
 * (purchase/degraded-admission.ts); the guard only says when Redis is back.
 */
import type { AdmissionCheck } from '../domain/purchase.ts';
import type { Inventory } from '../inventory/inventory.ts';
import type { Infra } from '../platform/infra.ts';
import { createChallenges } from './challenges.ts';
import { createLoadShedder } from './load-shedder.ts';
import { createRateLimiter } from './rate-limiter.ts';
import { breakerStateValue, createRedisBreaker } from './redis-breaker.ts';

export interface GuardDeps {
  infra: Pick<Infra, 'config' | 'redis' | 'keys' | 'metrics' | 'log'>;
  inventory: Pick<Inventory, 'reloadMissing'>;
  /** Every circuit is closed again: Redis is the gate once more (degraded admission forgets its answers). */
  onRedisBack?: () => void;
}

export function createGuard({ infra, inventory, onRedisBack }: GuardDeps) {
  const { config, redis, keys, metrics, log } = infra;
  const guardLog = log.child({ component: 'guard' });
  const breaker = createRedisBreaker({
    redis,
    log: guardLog,
    beforeClose: async () => {
      for (const reloaded of await inventory.reloadMissing()) guardLog.warn(reloaded, 'Redis came back without stock; re-loaded from MySQL');
    },
    onStateChange: (state) => {
      metrics.redisBreakerState.set(breakerStateValue[state]);
      if (state === 'closed') onRedisBack?.();
    },
  });
  const rateLimit = createRateLimiter({ redis, keys, breaker, rate: config.rate });
  const challenges = createChallenges({ redis, keys, breaker });
  const shedder = createLoadShedder({
    maxInflight: config.maxInflight,
    maxEventLoopDelayMs: config.maxEventLoopDelayMs,
    gauge: metrics.inflight,
    onShed: () => metrics.purchasesShed.inc(),
  });
  // Rate limit first: it is the cheaper refusal, and a bot flooding bad proofs is throttled too.
  const admissionChecks: AdmissionCheck[] = [rateLimit, challenges.check];
  return {
    breaker,
    shedder,
    challenges,
    admissionChecks,
    close() {
      breaker.stop();
      shedder.stop();
    },
  };
}

export type Guard = ReturnType<typeof createGuard>;
