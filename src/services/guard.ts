/**
 * Holding the line (issue #5), assembled once per process: the Redis circuit breaker, the rate
 * limiter and the anti-bot check (purchase admission checks), load shedding, and the degraded
 * admission used while Redis is unreachable.
 */
import type { Infra } from '../infra.ts';
import type { OrderPublisher } from '../kafka/order-publisher.ts';
import { createChallenges } from './challenges.ts';
import { createDegradedAdmission } from './degraded-admission.ts';
import type { Inventory } from './inventory.ts';
import { createLoadShedder } from './load-shedder.ts';
import type { AdmissionCheck } from './purchase.ts';
import { createRateLimiter } from './rate-limiter.ts';
import { breakerStateValue, createRedisBreaker } from './redis-breaker.ts';
import type { IdGenerator } from './snowflake.ts';

export interface GuardDeps {
  infra: Infra;
  inventory: Inventory;
  ids: IdGenerator;
  publisher: OrderPublisher;
}

export function createGuard({ infra, inventory, ids, publisher }: GuardDeps) {
  const { config, redis, keys, metrics, log } = infra;
  const guardLog = log.child({ component: 'guard' });
  const degrade = createDegradedAdmission({ ratio: config.degradeAdmitRatio, ids, publisher });
  const breaker = createRedisBreaker({
    redis,
    log: guardLog,
    beforeClose: async () => {
      for (const reloaded of await inventory.reloadMissing()) guardLog.warn(reloaded, 'Redis came back without stock; re-loaded from MySQL');
    },
    onStateChange: (state) => {
      metrics.redisBreakerState.set(breakerStateValue[state]);
      if (state === 'closed') degrade.forget();
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
    degrade,
    admissionChecks,
    close() {
      breaker.stop();
      shedder.stop();
    },
  };
}

export type Guard = ReturnType<typeof createGuard>;
