/**
 * The Redis connections of the process: one for commands (scripts defined on it), one for pub/sub
 * subscriptions (a subscribed connection can run nothing else). A comma-separated URL list means
 * Redis Cluster.
 */
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { within } from '../platform/timeouts.ts';
import { defineScripts } from './scripts.ts';

export type RedisClient = Redis | Cluster;

export interface RedisConnectOptions {
  nodes: string[];
  cluster: boolean;
  /** Fail commands fast instead of queueing them while disconnected (the purchase path must not hang). */
  maxRetriesPerRequest?: number;
  /** A pub/sub-only connection (no auto-pipelining: it runs nothing but (UN)SUBSCRIBE). */
  subscriber?: boolean;
}

function nodeOptions(url: string): RedisOptions {
  const parsed = new URL(url);
  return {
    host: parsed.hostname,
    port: Number(parsed.port || 6379),
    username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    db: parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : 0,
    tls: parsed.protocol === 'rediss:' ? {} : undefined,
  };
}

export function createRedis(options: RedisConnectOptions): RedisClient {
  const common: RedisOptions = {
    maxRetriesPerRequest: options.maxRetriesPerRequest ?? 1,
    enableOfflineQueue: true,
    connectTimeout: 2000,
    // The subscriber too: without a ready check ioredis calls a connection ready as soon as TCP
    // connects, and a connection that is then reset at once (a proxy or load balancer in front of
    // a Redis that is down accepts and resets) loses its saved subscriptions for good, its
    // re-SUBSCRIBE stuck in the offline queue: returned units and cache drops are no longer heard,
    // and QUIT never answers. pubsub.ts issues the first SUBSCRIBE only once the check has passed,
    // so the check is never refused by a subscribed connection (redis/ioredis#2037).
    enableReadyCheck: true,
    // Commands issued in the same event-loop turn (a crowd's reserve scripts, the worker's
    // settles and publishes) go out in one write instead of one syscall each.
    enableAutoPipelining: !options.subscriber,
    // Reconnect forever with a capped back-off: Redis coming back is the normal recovery path.
    retryStrategy: (times) => Math.min(50 * times, 1000),
  };
  let client: RedisClient;
  if (options.cluster) {
    client = new Cluster(
      options.nodes.map((n) => {
        const o = nodeOptions(n);
        return { host: o.host ?? '127.0.0.1', port: o.port ?? 6379 };
      }),
      { redisOptions: { ...common, ...nodeOptions(options.nodes[0] ?? 'redis://127.0.0.1:6379') }, enableOfflineQueue: true },
    );
  } else {
    client = new Redis({ ...common, ...nodeOptions(options.nodes[0] ?? 'redis://127.0.0.1:6379') });
  }
  defineScripts(client);
  // ioredis emits 'error' on every failed reconnect; without a listener Node would crash the process.
  client.on('error', () => {});
  return client;
}

/** QUIT waits for the replies in flight; a Redis that answers nothing must not hold a shutdown. */
const QUIT_TIMEOUT_MS = 2000;

export async function closeRedis(client: RedisClient): Promise<void> {
  try {
    await within(client.quit(), QUIT_TIMEOUT_MS, () => new Error('QUIT timed out'));
  } catch {
    client.disconnect();
  }
}
