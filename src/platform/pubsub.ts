/**
 * One Redis subscriber connection per process, fanned out to in-process handlers. Used for what
 * every instance must hear at once: units returned (clear sold-out flags), activity changed (drop
 * local caches), order status changed (push to the owner's WebSocket wherever it is connected).
 */
import type { Logger } from './log.ts';
import type { RedisClient } from '../redis/client.ts';

export type Handler = (message: string) => void;

export interface PubSub {
  publish(channel: string, message: string): Promise<void>;
  subscribe(channel: string, handler: Handler): Promise<void>;
}

/** How long a first SUBSCRIBE waits for the connection's ready check before it is sent anyway. */
const READY_WAIT_MS = 10_000;

export function createPubSub(redis: RedisClient, subscriber: RedisClient, log: Logger): PubSub {
  const handlers = new Map<string, Set<Handler>>();
  // A SUBSCRIBE sent while the connection's ready check (INFO) is in flight makes Redis refuse the
  // check (redis/ioredis#2037): wait for it. ioredis re-subscribes by itself after each check.
  const ready = async () => {
    if (subscriber.status === 'ready') return;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      timer = setTimeout(resolve, READY_WAIT_MS);
      subscriber.once('ready', () => resolve());
    });
    clearTimeout(timer);
  };
  subscriber.on('message', (channel: string, message: string) => {
    for (const handler of handlers.get(channel) ?? []) {
      try {
        handler(message);
      } catch (error) {
        log.error({ err: error, channel }, 'pub/sub handler failed');
      }
    }
  });
  return {
    async publish(channel, message) {
      await redis.publish(channel, message);
    },
    async subscribe(channel, handler) {
      let set = handlers.get(channel);
      if (!set) {
        set = new Set();
        handlers.set(channel, set);
        await ready();
        await subscriber.subscribe(channel);
      }
      set.add(handler);
    },
  };
}
