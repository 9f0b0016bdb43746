/**
 * Redis as a managed service: the machine's `redis-server` (apt-installed when missing), run as a
 * scratch cache with no persistence. One function builds any node — the default topology's single
 * Redis, a Redis Cluster member, or a test's own throwaway server on another port:
 *
 *   await ensure(redisNode({ name: 'redis-7101', dir: join(LOCAL, 'faults/redis-7101'), endpoint: { host: '127.0.0.1', port: 7101 } }));
 *   ...
 *   await stop(sameNode);
 */
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { endpointOf, env, firstOf, parseUrl } from './addresses.ts';
import { type Endpoint, ensureCommand, LOCAL, PROBE_TIMEOUT_MS } from './process.ts';
import { type Service, startDetached } from './service.ts';

export interface RedisNodeOptions {
  /** Names its pid/address/log files (`<dir>/<name>.pid`). */
  name: string;
  /** Its working directory (and, for a cluster node, where nodes.conf lives). */
  dir: string;
  endpoint: Endpoint;
  /** Runs with cluster-enabled, nodes.conf in `dir`; joining a cluster is the caller's step (./redis-cluster.ts). */
  cluster?: boolean;
  /** How long a cluster master may be unreachable before its replica takes over [5000]. */
  clusterNodeTimeoutMs?: number;
}

/** A redis-server at `options.endpoint`, started by ensure() when nothing answers there. */
export function redisNode(options: RedisNodeOptions): Service {
  const { endpoint } = options;
  let server = '';
  const service: Service = {
    name: options.name,
    dir: options.dir,
    endpoint,
    program: 'redis-server',
    startTimeoutMs: 30_000,
    probe: () => probeRedis(`redis://${endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host}:${endpoint.port}`),
    prepare: () => {
      server = ensureCommand('redis-server', 'redis-server');
    },
    // Not --daemonize: a child spawned detached gives its pid directly, and stdout is the log.
    start: () =>
      startDetached(service, server, [
        '--bind',
        endpoint.host === 'localhost' ? '127.0.0.1' : endpoint.host,
        '--port',
        String(endpoint.port),
        // A scratch cache for development: no snapshots, no append-only file.
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        options.dir,
        ...(options.cluster
          ? [
              '--cluster-enabled',
              'yes',
              '--cluster-config-file',
              'nodes.conf',
              '--cluster-node-timeout',
              String(options.clusterNodeTimeoutMs ?? 5000),
              // A failed master must cost only its own slots: with full coverage
              // required (the default), every node answers CLUSTERDOWN for every key until the
              // failover, stopping all activities for seconds. Production clusters want the same.
              '--cluster-require-full-coverage',
              'no',
            ]
          : []),
      ]),
  };
  return service;
}

/** The default topology's Redis: the first node of SECKILL_REDIS_URL, files in .local/redis. */
export function redisService(): Service {
  const variable = 'SECKILL_REDIS_URL';
  const first = firstOf(env(variable, 'redis://127.0.0.1:6379'));
  const url = parseUrl(variable, first.includes('://') ? first : `redis://${first}`);
  const service = redisNode({ name: 'redis', dir: join(LOCAL, 'redis'), endpoint: endpointOf(url, 6379) });
  // The URL may carry a password or database the bare endpoint lacks.
  service.probe = () => probeRedis(url.toString());
  return service;
}

/** A direct connection to one node that fails fast: no reconnecting, no queueing, no ready check (which has no timeout). */
export function connectOnce(url: string): Redis {
  return new Redis(url, {
    lazyConnect: true,
    connectTimeout: PROBE_TIMEOUT_MS,
    commandTimeout: PROBE_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableReadyCheck: false,
    enableOfflineQueue: false,
  });
}

/** Runs `fn` on a one-shot connection to `url`; the socket's own error wins over ioredis' "Connection is closed.". */
export async function withRedis<T>(url: string, fn: (client: Redis) => Promise<T>): Promise<T> {
  const client = connectOnce(url);
  // The socket's own error (e.g. ECONNREFUSED) says more than the "Connection is closed." that
  // connect() rejects with; listening also keeps ioredis from printing it.
  let socketError: Error | undefined;
  client.on('error', (error: Error) => {
    socketError = error;
  });
  try {
    await client.connect();
    return await fn(client);
  } catch (error) {
    throw socketError ?? error;
  } finally {
    client.disconnect();
  }
}

export async function probeRedis(url: string): Promise<void> {
  await withRedis(url, async (client) => {
    const reply = await client.ping();
    if (reply !== 'PONG') throw new Error(`PING answered "${reply}"`);
  });
}
