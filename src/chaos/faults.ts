/**
 * The fault catalogue: each kind injected on the campaign's own processes and proxies only, held
 * for its duration, and healed. An injection returns what happened (when, the evidence that it
 * touched something, the window in which orders surely could not flow, whether Redis may have
 * lost data), which the checker reads beside what the clients saw.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { createConnection, type RowDataPacket } from 'mysql2/promise';
import { keySlot, shardTag } from '../redis/keys.ts';
import { describeFault, type FaultStep } from './plan.ts';
import type { OwnProcess } from './processes.ts';
import type { ServiceExit } from './service.ts';
import { MYSQL_SERVER, type RunEnv, type World } from './world.ts';

export interface FaultOutcome {
  step: FaultStep;
  label: string;
  startedAt: number;
  healedAt: number;
  /** What the fault touched, in words (e.g. "killed 37 connections"); empty when it touched nothing. */
  effect: string;
  /** Orders surely could not flow from `from` to `to`: /readyz must not say 200 in between. */
  blocked?: { from: number; to: number; why: string };
  /** Redis may have lost acknowledged writes: the documented weaker forms are allowed (README "Redis replication is asynchronous"). */
  redisMayForget: boolean;
  /** A SIGTERM of the service: how it exited. */
  termination?: ServiceExit;
  /** Named moments for the timeline. */
  marks: Array<{ label: string; at: number }>;
}

export interface FaultContext {
  world: World;
  run: RunEnv;
  activityId: string;
  shards: number;
}

/** /readyz's own probes are bounded by 2 s and sampled every 250 ms: give them this long to notice. */
const READINESS_GRACE_MS = 4000;
const MYSQL_KILL_EVERY_MS = 50;

export async function inject(step: FaultStep, ctx: FaultContext): Promise<FaultOutcome> {
  const outcome: FaultOutcome = { step, label: describeFault(step), startedAt: Date.now(), healedAt: 0, effect: '', redisMayForget: false, marks: [] };
  const mark = (label: string) => outcome.marks.push({ label, at: Date.now() });
  const blockedUntilNow = (why: string) => {
    const to = Date.now();
    if (to - outcome.startedAt > READINESS_GRACE_MS) outcome.blocked = { from: outcome.startedAt + READINESS_GRACE_MS, to, why };
  };
  const { world, run } = ctx;
  switch (step.kind) {
    case 'kafka-kill':
    case 'kafka-term': {
      await world.kafka.signal(step.kind === 'kafka-kill' ? 'SIGKILL' : 'SIGTERM');
      // The broker is surely gone from here (an orderly stop takes seconds; signal() waits for it).
      outcome.startedAt = Date.now();
      mark('broker gone');
      await sleep(step.durationMs);
      blockedUntilNow('the broker was down');
      mark('broker restarting');
      await world.kafka.start();
      mark('broker answers');
      outcome.effect = `broker ${step.kind === 'kafka-kill' ? 'killed' : 'stopped'}, down ${Math.round((Date.now() - outcome.startedAt) / 100) / 10} s in all`;
      break;
    }
    case 'kafka-freeze': {
      await world.kafka.signal('SIGSTOP');
      await sleep(step.durationMs);
      blockedUntilNow('the broker was frozen');
      await world.kafka.signal('SIGCONT');
      outcome.effect = 'broker frozen';
      break;
    }
    case 'redis-kill':
      if (world.topology === 'single') {
        await world.redis[0]!.signal('SIGKILL');
        mark('redis killed');
        await sleep(step.durationMs);
        await world.redis[0]!.start();
        mark('redis back, empty');
        outcome.effect = 'redis-server killed and restarted empty';
      } else {
        const victim = await saleMaster(ctx, step.victim ?? 0);
        await victim.signal('SIGKILL');
        mark(`master ${victim.address} killed`);
        await sleep(step.durationMs);
        await victim.start();
        mark(`${victim.address} restarted`);
        await world.waitClusterOk(60_000);
        outcome.effect = `master ${victim.address} killed`;
      }
      outcome.redisMayForget = true;
      break;
    case 'redis-wipe': {
      const victim = world.topology === 'single' ? world.redis[0]! : await saleMaster(ctx, step.victim ?? 0);
      await withNode(victim.address, (client) => client.flushall());
      outcome.effect = `FLUSHALL on ${victim.address}`;
      outcome.redisMayForget = true;
      break;
    }
    case 'redis-failover': {
      const master = await saleMaster(ctx, step.victim ?? 0);
      const replica = await replicaOf(world, master);
      await withNode(replica.address, (client) => client.call('CLUSTER', 'FAILOVER', ...(step.force ? ['FORCE'] : [])));
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline && (await roleOf(replica.address)) !== 'master') await sleep(100);
      const role = await roleOf(replica.address);
      mark(`replica ${replica.address} is ${role}`);
      outcome.effect = role === 'master' ? `${replica.address} took over from ${master.address}${step.force ? ' (FORCE)' : ''}` : '';
      // Without FORCE the replica waits until it has every write of its master: nothing is lost.
      outcome.redisMayForget = step.force === true;
      break;
    }
    case 'redis-cluster-wipe': {
      await Promise.all(world.redis.map((node) => node.signal('SIGKILL')));
      mark('every node killed');
      await sleep(step.durationMs);
      await Promise.all(world.redis.map((node) => node.start()));
      await world.waitClusterOk(60_000);
      mark('cluster ok, empty');
      outcome.effect = `${world.redis.length} nodes restarted empty`;
      outcome.redisMayForget = true;
      break;
    }
    case 'mysql-kill': {
      // A connection of the campaign's own, naming no database, so it is never one of its targets.
      const killer = await createConnection({ uri: MYSQL_SERVER });
      let killed = 0;
      try {
        const until = Date.now() + step.durationMs;
        while (Date.now() < until) {
          const [rows] = await killer.query<RowDataPacket[]>('SELECT id FROM information_schema.processlist WHERE db = ? AND id <> CONNECTION_ID()', [run.database]);
          for (const row of rows) {
            try {
              await killer.query(`KILL CONNECTION ${Number(row['id'])}`);
              killed++;
            } catch {
              // it ended by itself in between
            }
          }
          await sleep(MYSQL_KILL_EVERY_MS);
        }
      } finally {
        await killer.end();
      }
      outcome.effect = killed > 0 ? `killed ${killed} connections` : '';
      break;
    }
    case 'mysql-stall': {
      const proxy = world.proxy('mysql');
      const held = proxy.connections;
      proxy.stall();
      await sleep(step.durationMs);
      blockedUntilNow('MySQL answered nothing');
      proxy.heal();
      outcome.effect = `${held} connections stalled`;
      break;
    }
    case 'api-kill':
    case 'worker-kill': {
      const index = step.kind === 'worker-kill' ? 0 : 1;
      // A process the primary is still forking again (an earlier fault) is waited for, briefly.
      let pid: number | undefined;
      for (let i = 0; i < 100 && pid === undefined; i++) {
        pid = run.service.apiProcess(index);
        if (pid === undefined) await sleep(100);
      }
      if (pid !== undefined) {
        process.kill(pid, 'SIGKILL');
        outcome.effect = `API process ${index} (pid ${pid}) killed`;
      }
      break;
    }
    case 'service-kill':
    case 'service-term': {
      const exit = await run.service.kill(step.kind === 'service-kill' ? 'SIGKILL' : 'SIGTERM');
      if (exit) {
        outcome.effect = `service ${step.kind === 'service-kill' ? 'killed' : `stopped (exit ${exit.code ?? exit.killedBy} after ${exit.tookMs} ms)`}`;
        if (step.kind === 'service-term') outcome.termination = exit;
      }
      mark('service gone');
      await sleep(step.durationMs);
      run.service.spawn();
      mark('service started again');
      // Timed on the side: the fault is over once a process runs again, whenever it listens.
      void run.service.waitListening(60_000).then(
        (ms) => mark(`listening after ${ms} ms`),
        () => mark('listening after 60000 ms or more'),
      );
      break;
    }
    case 'net-delay': {
      const proxy = world.proxy(step.link ?? 'kafka');
      proxy.delay(step.latencyMs ?? 500);
      await sleep(step.durationMs);
      proxy.heal();
      outcome.effect = `${proxy.connections} connections delayed`;
      break;
    }
    case 'net-cut': {
      const proxy = world.proxy(step.link ?? 'kafka');
      const before = proxy.resets;
      proxy.cut();
      await sleep(step.durationMs);
      blockedUntilNow(`the network to ${step.link} was cut`);
      proxy.heal();
      outcome.effect = `${proxy.resets - before} connections reset`;
      break;
    }
    case 'clock-jump': {
      const clock = run.clock;
      if (!clock) throw new Error('clock-jump needs the service started on a fake clock');
      clock.set(step.jumpMs ?? 60_000);
      mark(`clock ${(step.jumpMs ?? 0) > 0 ? '+' : ''}${(step.jumpMs ?? 0) / 1000} s`);
      await sleep(step.durationMs);
      clock.set(0);
      mark('clock back');
      outcome.effect = 'service clock stepped';
      break;
    }
  }
  outcome.healedAt = Date.now();
  return outcome;
}

async function withNode<T>(address: string, fn: (client: Redis) => Promise<T>): Promise<T> {
  const client = new Redis(`redis://${address}`, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 2000, commandTimeout: 5000, retryStrategy: () => null });
  client.on('error', () => {});
  try {
    await client.connect();
    return await fn(client);
  } finally {
    client.disconnect();
  }
}

async function roleOf(address: string): Promise<string> {
  try {
    return await withNode(address, async (client) => ((await client.call('ROLE')) as [string])[0]);
  } catch {
    return 'unreachable';
  }
}

/** The master (one of the campaign's nodes) serving one of the sale's shards, chosen by `draw`. */
async function saleMaster(ctx: FaultContext, draw: number): Promise<OwnProcess> {
  const shard = Math.min(ctx.shards - 1, Math.floor(draw * ctx.shards));
  const slot = keySlot(shardTag(ctx.activityId, ctx.shards, shard));
  for (const node of ctx.world.redis.filter((n) => n.running)) {
    try {
      const ranges = await withNode(node.address, async (client) => (await client.call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number]]>);
      const range = ranges.find(([low, high]) => slot >= low && slot <= high);
      const found = range && ctx.world.redis.find((n) => n.port === Number(range[2][1]));
      if (found) return found;
    } catch {
      // ask the next node
    }
  }
  throw new Error(`no node knows the master of slot ${slot}`);
}

/** A replica of `master` (asked of the master itself). */
async function replicaOf(world: World, master: OwnProcess): Promise<OwnProcess> {
  const text = await withNode(master.address, async (client) => (await client.call('CLUSTER', 'NODES')) as string);
  const lines = text.trim().split('\n').map((line) => line.split(' '));
  const me = lines.find((fields) => (fields[2] ?? '').includes('myself'));
  const replica = lines.find((fields) => fields[3] === me?.[0] && (fields[2] ?? '').includes('slave') && !(fields[2] ?? '').includes('fail'));
  const port = Number(replica?.[1]?.split('@')[0]?.split(':')[1]);
  const node = world.redis.find((n) => n.port === port);
  if (!node) throw new Error(`master ${master.address} has no live replica`);
  return node;
}
