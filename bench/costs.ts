/**
 * What one answer costs the service: CPU time of its process, Redis commands, Redis writes and
 * Kafka produce requests, read before and after a run and divided by the requests answered. The
 * service runs against a redis-server of the benchmark's own, so INFO commandstats counts only its
 * commands. Commandstats also counts the commands a Lua script runs inside Redis (work, not round
 * trips); the writes are the TCP segments carrying data from the service to Redis (ss), so several
 * requests' commands auto-pipelined into one write count once: the network round trips.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ: 100 on Linux). */
const TICKS = 100;

export interface Counters {
  cpuSeconds: number;
  redis: Record<string, number>;
  redisWrites: number;
  kafkaProduces: number;
}

export interface Cost {
  /** CPU time of the service process per request answered, in microseconds. */
  cpuUs: number;
  /** Redis commands per request, and the commands that make them up. */
  redisCommands: number;
  redisBreakdown: string;
  /** Writes (TCP segments with data) from the service to Redis per request. */
  redisWrites: number;
  /** Kafka produce requests (orders topic) per request. */
  kafkaProduces: number;
}

function cpuSeconds(pid: number): number {
  // Fields after the command name (which may hold spaces, hence the last ')').
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

async function redisCalls(redis: Redis): Promise<Record<string, number>> {
  const info = await redis.info('commandstats');
  const calls: Record<string, number> = {};
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls[match[1]!] = Number(match[2]);
  return calls;
}

async function kafkaProduces(serviceUrl: string): Promise<number> {
  const text = await (await fetch(`${serviceUrl}/metrics`)).text();
  let total = 0;
  for (const match of text.matchAll(/^seckill_kafka_produce_duration_seconds_count\{[^}]*topic="orders"[^}]*\} (\d+)/gm)) total += Number(match[1]);
  return total;
}

/** Data segments the process `pid` has sent on its connections to `port` (ss -i, as root). */
function segmentsTo(pid: number, port: number): number {
  const out = execFileSync('ss', ['-tnpi', 'state', 'established', `( dport = :${port} )`], { encoding: 'utf8' });
  let total = 0;
  let mine = false;
  for (const line of out.split('\n')) {
    if (/^\S/.test(line) || line.includes('users:(')) mine = line.includes(`pid=${pid},`);
    else if (mine) total += Number(/data_segs_out:(\d+)/.exec(line)?.[1] ?? 0);
  }
  return total;
}

/** `redis` absent: Redis is not answering (the BUSY phase), its counts are left out. */
export async function counters(pid: number, redis: Redis | undefined, serviceUrl: string): Promise<Counters> {
  const [redisNow, produces] = await Promise.all([redis ? redisCalls(redis) : {}, kafkaProduces(serviceUrl)]);
  const port = redis?.options.port;
  return { cpuSeconds: cpuSeconds(pid), redis: redisNow, redisWrites: port ? segmentsTo(pid, port) : 0, kafkaProduces: produces };
}

/** The cost per request between two readings; `ownRedisCalls` are the reader's own commands to subtract. */
export function costPerRequest(before: Counters, after: Counters, requests: number, ownRedisCalls: Record<string, number> = {}): Cost {
  // INFO is the reader's own command, not the service's.
  const delta = Object.entries(after.redis)
    .filter(([cmd]) => cmd !== 'info')
    .map(([cmd, n]) => [cmd, n - (before.redis[cmd] ?? 0) - (ownRedisCalls[cmd] ?? 0)] as const)
    .filter(([, n]) => n > 0);
  const total = delta.reduce((sum, [, n]) => sum + n, 0);
  const per = (n: number) => (requests > 0 ? n / requests : 0);
  return {
    cpuUs: per((after.cpuSeconds - before.cpuSeconds) * 1e6),
    redisCommands: per(total),
    redisBreakdown: delta
      .sort((a, b) => b[1] - a[1])
      .filter(([, n]) => per(n) >= 0.01)
      .map(([cmd, n]) => `${cmd} ${per(n).toFixed(2)}`)
      .join(', '),
    redisWrites: per(after.redisWrites - before.redisWrites),
    kafkaProduces: per(after.kafkaProduces - before.kafkaProduces),
  };
}
