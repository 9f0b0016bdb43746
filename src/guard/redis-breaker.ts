/**
 * Circuit breakers around Redis on the purchase path (docs/design.md, "Failure handling"), one per
 * Redis node: on a Redis Cluster a failed master opens only its own circuit, so only the keys (the
 * activities' shards, users' limits) it serves answer BUSY or degrade while every other node's keep
 * selling. A call names a key; the key's slot picks the node that serves it now, so after
 * a failover the same key goes through the new master's (closed) circuit.
 * Closed: calls go through, each bounded by a timeout, and consecutive connection failures are
 * counted. Open: calls fail at once (no request waits on a dead Redis; the purchase path degrades
 * instead). Every `probeIntervalMs` a single probe pings Redis (half-open); only once the ping
 * answers AND `beforeClose` succeeded — re-preheating stock that an empty Redis lost — does the
 * circuit close, so no reservation ever runs against a gate that forgot its stock.
 *
 * Hand-written rather than opossum: opossum closes the circuit on the first successful *request*
 * in half-open, while here closing must wait for a dedicated recovery step (the re-preheat), and
 * the failure signal we want is the connection state ioredis already tracks, not an error rate.
 */
import type { Logger } from '../platform/log.ts';
import { slotOfKey } from '../redis/keys.ts';
import { withRedisTimeout } from '../platform/timeouts.ts';

export type BreakerState = 'closed' | 'open' | 'half-open';

/** The state as the `seckill_redis_breaker_state` gauge shows it: higher is worse. */
export const breakerStateValue: Readonly<Record<BreakerState, number>> = { closed: 0, 'half-open': 1, open: 2 };

export class BreakerOpenError extends Error {
  constructor() {
    super('Redis circuit is open');
    this.name = 'BreakerOpenError';
  }
}

/** What a circuit needs of one ioredis connection. */
export interface ProbedRedis {
  readonly status: string;
  ping(): Promise<string>;
}

/** What the breakers need of an ioredis Cluster: its slot map (slot → [master, …replicas]) and its masters. */
interface ProbedCluster extends ProbedRedis {
  readonly slots: string[][];
  nodes(role: 'master'): Array<ProbedRedis & { options: { host?: string; port?: number } }>;
}

const isCluster = (redis: ProbedRedis): redis is ProbedCluster => 'slots' in redis && typeof (redis as { nodes?: unknown }).nodes === 'function';

export interface RedisBreakerOptions {
  redis: ProbedRedis;
  log: Logger;
  /** Must succeed before a circuit closes (e.g. re-load stock an empty Redis lost). */
  beforeClose?: () => Promise<void>;
  /** Consecutive connection failures (or timeouts) that open a circuit. */
  failureThreshold?: number;
  /** How often an open circuit probes its node. */
  probeIntervalMs?: number;
  /** A call slower than this counts as a failure and is answered with an error. */
  timeoutMs?: number;
  /** The worst state over all nodes changed. */
  onStateChange?: (state: BreakerState) => void;
}

export interface RedisBreaker {
  /** The worst state over all nodes. */
  readonly state: BreakerState;
  /** True only while calls for `key` (any key: every node) may go to Redis. */
  isClosed(key?: string): boolean;
  /** Runs `fn` (a Redis call on `key`'s node) through that node's circuit: fails fast when open or not connected, times out. */
  run<T>(fn: () => Promise<T>, key?: string): Promise<T>;
  /** Stops probing (shutdown). */
  stop(): void;
}

/** A Redis *reply* error (wrong type, script error) means Redis answered: it is not an outage. */
const isReplyError = (error: unknown) => error instanceof Error && error.name === 'ReplyError';

const STANDALONE = 'redis';
const severity = (state: BreakerState) => breakerStateValue[state];

export function createRedisBreaker(options: RedisBreakerOptions): RedisBreaker {
  const { redis, log } = options;
  const threshold = options.failureThreshold ?? 3;
  const probeIntervalMs = options.probeIntervalMs ?? 500;
  const timeoutMs = options.timeoutMs ?? 1000;
  const circuits = new Map<string, Circuit>();
  let worst: BreakerState = 'closed';
  let stopped = false;

  /** The node serving `key` now ("host:port"), or the one standalone Redis. */
  function nodeOf(key: string | undefined): string {
    if (!isCluster(redis)) return STANDALONE;
    if (key === undefined) return STANDALONE;
    return redis.slots[slotOfKey(key)]?.[0] ?? STANDALONE;
  }

  /** The connection a probe pings; `retired` when the node no longer serves any slot (failed over). */
  function target(node: string): ProbedRedis | 'retired' | undefined {
    if (!isCluster(redis) || node === STANDALONE) return redis;
    const master = redis.nodes('master').find((n) => `${n.options.host}:${n.options.port}` === node);
    if (master) return master;
    return redis.slots.some((owners) => owners[0] === node) ? undefined : 'retired';
  }

  function recomputeWorst(): void {
    let next: BreakerState = 'closed';
    for (const circuit of circuits.values()) if (severity(circuit.state) > severity(next)) next = circuit.state;
    if (next === worst) return;
    worst = next;
    options.onStateChange?.(next);
  }

  class Circuit {
    state: BreakerState = 'closed';
    private failures = 0;
    private timer: NodeJS.Timeout | undefined;

    readonly node: string;

    constructor(node: string) {
      this.node = node;
    }

    private setState(next: BreakerState): void {
      if (this.state === next) return;
      this.state = next;
      log.warn({ state: next, node: this.node }, `Redis circuit ${next}`);
      recomputeWorst();
    }

    private schedule(): void {
      if (stopped || this.timer) return;
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.probe();
      }, probeIntervalMs);
      this.timer.unref();
    }

    private async probe(): Promise<void> {
      if (stopped || this.state !== 'open') return;
      const connection = target(this.node);
      if (connection === 'retired') {
        // Failed over: its slots are served by another master (another circuit) now.
        log.warn({ node: this.node }, 'Redis node no longer serves any slot; its circuit is dropped');
        circuits.delete(this.node);
        recomputeWorst();
        return;
      }
      // ioredis reconnects by itself; until it has, a ping would only queue.
      if (connection?.status !== 'ready' || redis.status !== 'ready') return this.schedule();
      this.setState('half-open');
      try {
        await withRedisTimeout(connection.ping(), timeoutMs);
        await options.beforeClose?.();
        this.failures = 0;
        this.setState('closed');
      } catch (error) {
        log.warn({ err: error, node: this.node }, 'Redis probe failed; circuit stays open');
        this.setState('open');
        this.schedule();
      }
    }

    failure(): void {
      this.failures += 1;
      if ((this.failures >= threshold || redis.status === 'end') && this.state === 'closed') {
        this.setState('open');
        this.schedule();
      }
    }

    success(): void {
      this.failures = 0;
    }

    stop(): void {
      clearTimeout(this.timer);
    }
  }

  function circuitOf(key: string | undefined): Circuit {
    const node = nodeOf(key);
    let circuit = circuits.get(node);
    if (!circuit) {
      circuit = new Circuit(node);
      circuits.set(node, circuit);
    }
    return circuit;
  }

  return {
    get state() {
      return worst;
    },
    isClosed: (key) => (key === undefined ? worst === 'closed' : circuitOf(key).state === 'closed'),
    async run(fn, key) {
      const circuit = circuitOf(key);
      if (circuit.state !== 'closed') throw new BreakerOpenError();
      if (redis.status !== 'ready') {
        circuit.failure();
        throw new Error(`Redis not connected (${redis.status})`);
      }
      try {
        const value = await withRedisTimeout(fn(), timeoutMs);
        circuit.success();
        return value;
      } catch (error) {
        if (!isReplyError(error)) circuit.failure();
        throw error;
      }
    },
    stop() {
      stopped = true;
      for (const circuit of circuits.values()) circuit.stop();
    },
  };
}
