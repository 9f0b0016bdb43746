/**
 * What MySQL (the truth) and the suite's own Redis (the gate) say, read directly, never through
 * the service: a fault that breaks the service must not be able to hide behind its own stats.
 *
 * The MySQL connection names no default database, so the MySQL fault (which kills every
 * connection whose current database is the test's) never kills the suite's own reads.
 */
import { Redis } from 'ioredis';
import { type Connection, createConnection, type RowDataPacket } from 'mysql2/promise';
import { createKeys } from '../../../src/redis/keys.ts';

export interface StockState {
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

export class Truth {
  private readonly database: string;
  private readonly activityId: string;
  private readonly keys: ReturnType<ReturnType<typeof createKeys>['activity']>;
  private readonly mysql: Connection;
  private readonly redis: Redis;

  private constructor(database: string, activityId: string, redisPrefix: string, mysql: Connection, redis: Redis) {
    this.database = database;
    this.activityId = activityId;
    this.keys = createKeys(redisPrefix).activity(activityId);
    this.mysql = mysql;
    this.redis = redis;
  }

  static async open(options: { mysqlServer: string; database: string; redisUrl: string; redisPrefix: string; activityId: string }): Promise<Truth> {
    const mysql = await createConnection({ uri: options.mysqlServer, timezone: 'Z', supportBigNumbers: true, bigNumberStrings: true });
    await mysql.query("SET time_zone = '+00:00'");
    // Redis is killed by one of the faults: fail fast while it is away, reconnect when it is back.
    const redis = new Redis(options.redisUrl, { maxRetriesPerRequest: 0, enableOfflineQueue: false, commandTimeout: 2000, retryStrategy: () => 200 });
    redis.on('error', () => {});
    return new Truth(options.database, options.activityId, options.redisPrefix, mysql, redis);
  }

  async stock(): Promise<StockState> {
    const [rows] = await this.mysql.query<RowDataPacket[]>(
      `SELECT stock, available, locked, sold FROM \`${this.database}\`.activity_stock WHERE activity_id = ?`,
      [this.activityId],
    );
    const row = rows[0];
    if (!row) throw new Error(`activity ${this.activityId} has no stock row`);
    let redisRemaining: number | null = null;
    let redisReservations = -1;
    let redisPending = -1;
    try {
      const [remaining, reservations, pending] = await Promise.all([
        this.redis.get(this.keys.remaining),
        this.redis.hlen(this.keys.reservations),
        this.redis.hlen(this.keys.pending),
      ]);
      redisRemaining = remaining === null ? null : Number(remaining);
      redisReservations = reservations;
      redisPending = pending;
    } catch {
      // Redis is down (a fault): unknown.
    }
    return { stock: Number(row['stock']), available: Number(row['available']), locked: Number(row['locked']), sold: Number(row['sold']), redisRemaining, redisReservations, redisPending };
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
