/**
 * Several API processes per machine (SECKILL_API_PROCESSES): one Node process uses one
 * core, so `npm start` forks one process per core with node:cluster, all accepting on the same
 * port. Process 0 also runs the background workers (consumer groups and SKIP LOCKED make several
 * safe, but one per machine is enough); the others serve the API only. What must be right across
 * processes already travels through Redis (the sold-out flag, cache invalidation, WebSocket
 * fan-out), and /metrics answers for the whole machine: the process that gets the scrape asks the
 * primary, which gathers every process's registry (prom-client's AggregatorRegistry).
 *
 * The primary owns nothing but its children: a child that dies is forked again (with backoff), so
 * a crash never needs a manual restart; SIGTERM/SIGINT is passed to every child, and the primary
 * exits 0 once all have drained. A child whose primary vanished (SIGKILL) exits by itself (Node's
 * cluster does that when the IPC channel closes), so no orphan keeps the port.
 */
import cluster, { type Worker } from 'node:cluster';
import { setTimeout as sleep } from 'node:timers/promises';
import { AggregatorRegistry } from 'prom-client';
import { isScrape, SCRAPE_REPLY, SCRAPE_REQUEST } from '../platform/cluster-metrics.ts';

const INDEX_VARIABLE = 'SECKILL_PROCESS_INDEX';
const SHUTDOWN_TIMEOUT_MS = 35_000;
const MAX_RESTART_DELAY_MS = 10_000;

/** This process's index among the API processes (0 when not forked). */
export function processIndex(): number {
  return Number(process.env[INDEX_VARIABLE] ?? 0);
}

/** Runs the primary: forks `count` children and supervises them until a signal; never returns. */
export async function runPrimary(count: number, log: (line: string) => void): Promise<never> {
  const aggregator = new AggregatorRegistry();
  const children = new Map<number, Worker>();
  const restarts = new Map<number, number>();
  const listening = new WeakSet<Worker>();
  let stopping = false;

  function fork(index: number): void {
    const child = cluster.fork({ [INDEX_VARIABLE]: String(index) });
    children.set(index, child);
    child.on('message', (message: unknown) => {
      if (!isScrape(message, SCRAPE_REQUEST)) return;
      aggregator.clusterMetrics().then(
        (text) => child.send({ type: SCRAPE_REPLY, id: message.id, text }),
        (error: unknown) => child.send({ type: SCRAPE_REPLY, id: message.id, error: String(error) }),
      );
    });
    child.on('exit', (code, signal) => {
      children.delete(index);
      if (stopping) return;
      // A crashed child is replaced; one that keeps crashing is replaced ever more slowly.
      const attempt = (restarts.get(index) ?? 0) + 1;
      restarts.set(index, attempt);
      const delay = Math.min(MAX_RESTART_DELAY_MS, 250 * 2 ** (attempt - 1));
      log(`seckill: API process ${index} exited (${signal ?? code}); starting it again in ${delay} ms`);
      // Not unref'd: when every child has died (all refused to start while Kafka was away), this
      // timer is all that keeps the primary alive; without it Node found nothing left to wait for
      // and exited (13, an unsettled top-level await) instead of starting them again.
      setTimeout(() => {
        if (!stopping) fork(index);
      }, delay);
    });
    // A child that has run a while is healthy again: its next crash restarts quickly.
    child.once('listening', () => {
      listening.add(child);
      setTimeout(() => restarts.delete(index), 30_000).unref();
    });
  }

  for (let index = 0; index < count; index++) fork(index);

  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    const running = [...children.values()];
    for (const child of running) child.process.kill(signal);
    const deadline = sleep(SHUTDOWN_TIMEOUT_MS).then(() => 'timeout' as const);
    const codes = await Promise.race([
      Promise.all(
        running.map(
          (child) =>
            new Promise<number | string>((resolve) =>
              child.once('exit', (code, killedBy) =>
                // A child still loading when the signal came had nothing to drain: its death by
                // that signal is a clean stop.
                resolve(code ?? (killedBy === signal && !listening.has(child) ? 0 : String(killedBy))),
              ),
            ),
        ),
      ),
      deadline,
    ]);
    if (codes === 'timeout') {
      log('seckill: API processes did not stop in time');
      for (const child of children.values()) child.process.kill('SIGKILL');
      process.exit(1);
    }
    const failed = codes.filter((code) => code !== 0);
    if (failed.length > 0) log(`seckill: ${failed.length} API process(es) did not stop cleanly (exit ${failed.join(', ')})`);
    process.exit(failed.length === 0 ? 0 : 1);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  return new Promise<never>(() => {});
}
