/**
 * What MySQL (the truth) and the campaign's own Redis (the gate) say, read directly, never through
 * the service: a fault that breaks the service must not be able to hide behind its own stats. A
 * sharded sale is summed over its shards; a Redis Cluster is read through a cluster client.
 *
 * The MySQL connection names no default database and goes straight to the server (not through the
 * campaign's proxy), so neither the MySQL kill (which kills every connection whose current database
 * is the run's) nor a stall or cut of the service's link ever touches the campaign's own reads.
 */
import { Cluster, Redis } from 'ioredis';
import { type Connection, createConnection, type RowDataPacket } from 'mysql2/promise';
import { type ActivityKeys, createKeys } from '../redis/keys.ts';

export interface StockState {
  at: number;
  stock: number;
  available: number;
  locked: number;
  sold: number;
  /** null: Redis does not know the activity (or could not be read). */
  redisRemaining: number | null;
  /** Reservations Redis holds that the worker has not settled yet (-1: Redis could not be read). */
  redisReservations: number;
  /** Reservations whose Kafka publish is not confirmed yet (-1: Redis could not be read). */
  redisPending: number;
  /** Units taken out of a shard by a steal and not yet given to another (-1: unknown). */
  redisInTransit: number;
}

export interface OrderRow {
  id: string;
  userId: string;
  requestId: string;
  quantity: number;
  status: string;
  reason: string | null;
  /** Epoch ms of the row's last change (for a FAILED or CANCELLED order: when its units came back). */
  changedAtMs: number;
}

export interface TruthOptions {
  mysqlServer: string;
  database: string;
  /** One redis:// node, or a comma-separated list of a cluster's nodes. */
  redisUrl: string;
  redisPrefix: string;
  activityId: string;
  shards: number;
}

export class Truth {
  private readonly database: string;
  private readonly activityId: string;
  private readonly shards: ActivityKeys[];
  private readonly mysql: Connection;
  private readonly redis: Redis | Cluster;

  private constructor(options: TruthOptions, mysql: Connection, redis: Redis | Cluster) {
    this.database = options.database;
    this.activityId = options.activityId;
    const keys = createKeys(options.redisPrefix);
    this.shards = Array.from({ length: options.shards }, (_, i) => keys.shard(options.activityId, options.shards, i));
    this.mysql = mysql;
    this.redis = redis;
  }

  static async open(options: TruthOptions): Promise<Truth> {
    const mysql = await createConnection({ uri: options.mysqlServer, timezone: 'Z', supportBigNumbers: true, bigNumberStrings: true });
    await mysql.query("SET time_zone = '+00:00'");
    // Redis is killed by some faults: fail fast while it is away, reconnect when it is back.
    const fast = { maxRetriesPerRequest: 0, enableOfflineQueue: false, commandTimeout: 2000, retryStrategy: () => 200 };
    const nodes = options.redisUrl.split(',').map((n) => n.trim());
    const redis =
      nodes.length > 1
        ? new Cluster(nodes, { redisOptions: fast, enableOfflineQueue: false, clusterRetryStrategy: () => 200, slotsRefreshTimeout: 2000 })
        : new Redis(nodes[0]!, fast);
    redis.on('error', () => {});
    return new Truth(options, mysql, redis);
  }

  async stock(): Promise<StockState> {
    const [rows] = await this.mysql.query<RowDataPacket[]>(
      // The stock is split over slots, each CHECKed on its own: the activity's is their sum.
      `SELECT SUM(stock) AS stock, SUM(available) AS available, SUM(locked) AS locked, SUM(sold) AS sold
         FROM \`${this.database}\`.activity_stock WHERE activity_id = ? GROUP BY activity_id`,
      [this.activityId],
    );
    const row = rows[0];
    if (!row) throw new Error(`activity ${this.activityId} has no stock row`);
    let redisRemaining: number | null = null;
    let redisReservations = -1;
    let redisPending = -1;
    let redisInTransit = -1;
    try {
      const perShard = await Promise.all(
        this.shards.map(async (keys) => {
          const [remaining, reservations, pending, transit] = await Promise.all([
            this.redis.get(keys.remaining),
            this.redis.hlen(keys.reservations),
            this.redis.hlen(keys.pending),
            this.redis.hvals(keys.transit),
          ]);
          return { remaining, reservations, pending, transit: transit.reduce((sum, v) => sum + Number(v.split('|')[0] ?? 0), 0) };
        }),
      );
      redisRemaining = perShard.every((s) => s.remaining === null) ? null : perShard.reduce((sum, s) => sum + Number(s.remaining ?? 0), 0);
      redisReservations = perShard.reduce((sum, s) => sum + s.reservations, 0);
      redisPending = perShard.reduce((sum, s) => sum + s.pending, 0);
      redisInTransit = perShard.reduce((sum, s) => sum + s.transit, 0);
    } catch {
      // Redis is down (a fault): unknown.
    }
    return {
      at: Date.now(),
      stock: Number(row['stock']),
      available: Number(row['available']),
      locked: Number(row['locked']),
      sold: Number(row['sold']),
      redisRemaining,
      redisReservations,
      redisPending,
      redisInTransit,
    };
  }

  async orders(): Promise<Map<string, OrderRow>> {
    const [rows] = await this.mysql.query<RowDataPacket[]>(
      `SELECT id, user_id, request_id, quantity, status, reason, FLOOR(UNIX_TIMESTAMP(GREATEST(created_at, updated_at)) * 1000) AS changed_ms
         FROM \`${this.database}\`.orders WHERE activity_id = ?`,
      [this.activityId],
    );
    const orders = new Map<string, OrderRow>();
    for (const r of rows) {
      orders.set(String(r['id']), {
        id: String(r['id']),
        userId: String(r['user_id']),
        requestId: String(r['request_id']),
        quantity: Number(r['quantity']),
        status: String(r['status']),
        reason: r['reason'] === null ? null : String(r['reason']),
        changedAtMs: Number(r['changed_ms']),
      });
    }
    return orders;
  }

  async close(): Promise<void> {
    await this.mysql.end().catch(() => {});
    this.redis.disconnect();
  }
}
