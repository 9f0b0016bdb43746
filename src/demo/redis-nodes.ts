/**
 * Redis for the demo's checker and cleanup, standalone or Redis Cluster alike. A
 * SECKILL_REDIS_URL value is one `redis://` node or a comma-separated list of them (a cluster,
 * docs/api.md); the project's own factory understands both. SCAN, unlike every other command, only
 * sees the node it runs on, so on a cluster it must run on every master.
 */
import { Cluster, type Redis } from 'ioredis';
import { closeRedis, createRedis, type RedisClient } from '../redis/client.ts';

/** A connection (a Cluster client for a list of nodes), ready for commands. */
export async function connectRedis(redisUrl: string): Promise<RedisClient> {
  const nodes = redisUrl
    .split(',')
    .map((n) => n.trim())
    .filter(Boolean);
  const client = createRedis({ nodes, cluster: nodes.length > 1, maxRetriesPerRequest: 2 });
  try {
    // The first answer also means a cluster client has loaded the slot map (nodes('master') is known).
    await client.ping();
    return client;
  } catch (error) {
    client.disconnect();
    throw error;
  }
}

export { closeRedis };

/** The connections that hold data: the node itself, or each master of a cluster. */
export function dataNodes(client: RedisClient): Redis[] {
  return client instanceof Cluster ? client.nodes('master') : [client];
}

/**
 * Visits every key matching `pattern`, in batches, with the node that holds them: commands on
 * them go to that node directly, which on a cluster also avoids cross-slot multi-key commands.
 */
export async function scanEach(client: RedisClient, pattern: string, visit: (node: Redis, keys: string[]) => Promise<void>): Promise<void> {
  for (const node of dataNodes(client)) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await visit(node, keys);
    } while (cursor !== '0');
  }
}

/** GET of each key on the node that holds it, one round trip per batch, no cross-slot command. */
export async function getEach(node: Redis, keys: string[]): Promise<Array<string | null>> {
  const replies = (await node.pipeline(keys.map((k) => ['get', k])).exec()) ?? [];
  return replies.map(([error, value]) => {
    if (error) throw error;
    return value as string | null;
  });
}

/** Unlinks the keys on the node that holds them (one command per key: they may be in different slots). */
export async function unlinkEach(node: Redis, keys: string[]): Promise<void> {
  const replies = (await node.pipeline(keys.map((k) => ['unlink', k])).exec()) ?? [];
  for (const [error] of replies) if (error) throw error;
}
