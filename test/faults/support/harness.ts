/**
 * One fault test's world: its own redis-server and Kafka broker, a fresh MySQL database on the
 * shared server, the service as a child process pointed at them, one sale, and a crowd buying
 * through the fault. The test supplies only the fault; the harness times it, keeps buyers coming
 * until the sale is truly sold out (MySQL and Redis both at zero, nothing in flight) or a time
 * bound passes, waits for the order pipeline to drain, and hands everything to the checks.
 */
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { call } from '../../support/http.ts';
import { dropDatabase, MYSQL_SERVER, TEST_SECRETS, testEnv } from '../../support/env.ts';
import { freePort } from '../../../src/demo/service.ts';
import { type OwnProcess, ownKafka, ownRedis } from './brokers.ts';
import { Crowd } from './crowd.ts';
import { type ServiceProcess, serviceProcess } from './service.ts';
import { type StockState, Truth } from './truth.ts';

export interface SaleShape {
  stock: number;
  limitPerUser: number;
  /** Buyers that may arrive in all (several times the stock: some must be left over). */
  buyers: number;
  arrivalsPerSec: number;
  concurrency: number;
  /** The fault starts once this share of the stock was answered 202. */
  faultAfterShare: number;
  /** Buyers stop arriving this long after the fault ended, sold out or not. */
  afterFaultMs: number;
  /** Bound on waiting for the pipeline to drain after the crowd left. */
  drainMs: number;
}

export const DEFAULT_SHAPE: SaleShape = {
  stock: 250,
  limitPerUser: 2,
  buyers: 3000,
  arrivalsPerSec: 40,
  concurrency: 100,
  faultAfterShare: 0.3,
  afterFaultMs: 30_000,
  drainMs: 40_000,
};

/** Everything observed in one run, for the checks. */
export interface SaleRun {
  activityId: string;
  shape: SaleShape;
  crowd: Crowd;
  startedAt: number;
  faultStartAt: number;
  faultEndAt: number;
  /** Whether buyers stopped arriving because the sale was sold out (else: the time bound). */
  soldOutSeen: boolean;
  drained: boolean;
  /** /readyz samples taken all along. */
  readiness: Array<{ at: number; status: number }>;
  /** The truth after the drain. */
  final: StockState;
  /** Named moments the fault wants in the report (e.g. "broker back"). */
  marks: Array<{ label: string; at: number }>;
}

export interface FaultControl {
  harness: Harness;
  /** Records a named moment (relative times appear in the report). */
  mark(label: string): void;
}

export class Harness {
  readonly label: string;
  kafka!: OwnProcess;
  redis!: OwnProcess;
  service!: ServiceProcess;
  env!: Record<string, string>;
  database = '';
  redisPrefix = '';
  private readonly owned: OwnProcess[] = [];

  constructor(label: string) {
    this.label = label;
  }

  get redisUrl(): string {
    return `redis://${this.redis.address}`;
  }

  /** Starts Redis, Kafka and the service (bounded); on failure the caller's after() still cleans up. */
  async setUp(serviceEnv: Record<string, string> = {}): Promise<void> {
    this.redis = await ownRedis();
    this.owned.push(this.redis);
    this.kafka = await ownKafka();
    this.owned.push(this.kafka);
    await Promise.all([this.redis.start(), this.kafka.start()]);
    const port = await freePort();
    const test = testEnv(
      {
        PORT: String(port),
        SECKILL_REDIS_URL: this.redisUrl,
        SECKILL_KAFKA_BROKERS: this.kafka.address,
        SECKILL_RATE_USER_PER_SEC: '0',
        SECKILL_RECONCILE_INTERVAL_MS: '2000',
        SECKILL_REAPER_INTERVAL_MS: '1000',
        SECKILL_LOG_LEVEL: 'info',
        ...serviceEnv,
      },
      `f_${this.label}`,
    );
    this.env = test.env;
    this.database = test.config.mysql.database;
    this.redisPrefix = test.config.redis.prefix;
    // One log per fault, overwritten by the next run: there to read after a failure, never piling up.
    const logs = join(tmpdir(), 'seckill-faults-logs');
    mkdirSync(logs, { recursive: true });
    this.service = serviceProcess(this.env, join(logs, `${this.label}.log`));
    this.service.spawn();
    await this.service.waitReady(90_000);
  }

  async tearDown(): Promise<void> {
    const problems: string[] = [];
    await this.service?.end().catch((error: unknown) => problems.push(`service: ${String(error)}`));
    for (const process of this.owned) await process.destroy().catch((error: unknown) => problems.push(`${process.name}: ${String(error)}`));
    if (this.database) await dropDatabase(this.database).catch((error: unknown) => problems.push(`drop ${this.database}: ${String(error)}`));
    if (problems.length > 0) throw new Error(`tear-down: ${problems.join('; ')}`);
  }

  async admin(method: string, path: string, body?: unknown) {
    return call(this.service.url, method, path, { body, auth: `Bearer ${TEST_SECRETS.SECKILL_ADMIN_TOKEN}` });
  }

  async createSale(shape: SaleShape): Promise<string> {
    const c = await this.admin('POST', '/api/v1/admin/commodities', { name: 'Bottle', priceCents: 990, description: 'fault-suite bottle' });
    if (c.status !== 201) throw new Error(`create commodity: ${c.status} ${JSON.stringify(c.body)}`);
    const a = await this.admin('POST', '/api/v1/admin/activities', {
      name: `Faults ${this.label}`,
      commodityId: c.body.commodity.id,
      priceCents: 990,
      stock: shape.stock,
      startAt: new Date(Date.now() - 1000).toISOString(),
      endAt: new Date(Date.now() + 3_600_000).toISOString(),
      limitPerUser: shape.limitPerUser,
      // Orders must stay PENDING_PAYMENT: no unit comes back by expiry during the run.
      paymentTimeoutSeconds: 3600,
    });
    if (a.status !== 201) throw new Error(`create activity: ${a.status} ${JSON.stringify(a.body)}`);
    return String(a.body.activity.id);
  }

  truth(activityId: string): Promise<Truth> {
    return Truth.open({ mysqlServer: MYSQL_SERVER, database: this.database, redisUrl: this.redisUrl, redisPrefix: this.redisPrefix, activityId });
  }

  /**
   * Waits until every reservation is settled and every 202 id is in MySQL, then one reconcile
   * interval more, so a last repair is part of the final state. False if the bound passed first.
   */
  private async drain(truth: Truth, crowd: Crowd, boundMs: number): Promise<boolean> {
    const accepted = crowd.accepted();
    const drainBy = Date.now() + boundMs;
    while (Date.now() < drainBy) {
      const state = await truth.stock().catch(() => undefined);
      if (state && state.redisReservations === 0 && state.redisPending === 0) {
        const orders = await truth.orders().catch(() => undefined);
        if (orders && [...accepted.keys()].every((id) => orders.has(id))) {
          await sleep(2500);
          return true;
        }
      }
      await sleep(500);
    }
    return false;
  }

  /** Runs a whole sale with `fault` injected once `faultAfterShare` of the stock was won. */
  async runSale(fault: (control: FaultControl) => Promise<void>, shape: SaleShape = DEFAULT_SHAPE): Promise<SaleRun> {
    const activityId = await this.createSale(shape);
    const truth = await this.truth(activityId);
    const marks: SaleRun['marks'] = [];
    const readiness: SaleRun['readiness'] = [];
    let latest: StockState | undefined;
    let soldOut = false;
    let watching = true;
    // The sale is over only when nothing is left anywhere: MySQL, Redis, and reservations in flight.
    const watcher = (async () => {
      while (watching) {
        try {
          latest = await truth.stock();
          soldOut = latest.available === 0 && latest.redisRemaining === 0 && latest.redisReservations === 0 && latest.redisPending === 0;
        } catch {
          // MySQL trouble is one of the faults: try again.
        }
        await sleep(300);
      }
    })();
    const probing = (async () => {
      while (watching) {
        let status = 0;
        try {
          const response = await fetch(`${this.service.url}/readyz`, { signal: AbortSignal.timeout(3000) });
          await response.arrayBuffer();
          status = response.status;
        } catch {
          // not answering
        }
        readiness.push({ at: Date.now(), status });
        await sleep(250);
      }
    })();

    const crowd = new Crowd({
      url: this.service.url,
      activityId,
      buyers: shape.buyers,
      arrivalsPerSec: shape.arrivalsPerSec,
      concurrency: shape.concurrency,
      limitPerUser: shape.limitPerUser,
    });
    const startedAt = Date.now();
    let arrivalsDeadline = startedAt + 600_000;
    crowd.start(() => soldOut || Date.now() > arrivalsDeadline);
    try {
      const threshold = Math.ceil(shape.stock * shape.faultAfterShare);
      const before = Date.now() + 30_000;
      while (crowd.accepted().size < threshold && Date.now() < before) await sleep(100);
      if (crowd.accepted().size < threshold) throw new Error(`only ${crowd.accepted().size} of ${threshold} purchases succeeded before the fault: the sale did not start`);
      const faultStartAt = Date.now();
      await fault({ harness: this, mark: (label) => marks.push({ label, at: Date.now() }) });
      const faultEndAt = Date.now();
      arrivalsDeadline = faultEndAt + shape.afterFaultMs;
      await crowd.finished();
      let soldOutSeen = soldOut;
      let drained = await this.drain(truth, crowd, shape.drainMs);
      let final = await truth.stock();
      if (final.available > 0 || final.redisRemaining !== 0) {
        // Units came back after the crowd left (or were never sold): buyers keep coming, briefly.
        marks.push({ label: `late buyers (available ${final.available}, Redis ${final.redisRemaining})`, at: Date.now() });
        const lateBy = Date.now() + 15_000;
        crowd.start(() => soldOut || Date.now() > lateBy);
        await crowd.finished();
        soldOutSeen = soldOut;
        drained = await this.drain(truth, crowd, shape.drainMs);
        final = await truth.stock();
      }
      return { activityId, shape, crowd, startedAt, faultStartAt, faultEndAt, soldOutSeen, drained, readiness, final, marks };
    } finally {
      await crowd.stop();
      watching = false;
      await Promise.all([watcher, probing]);
      await truth.close();
    }
  }
}
