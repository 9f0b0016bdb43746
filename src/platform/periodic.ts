import { setTimeout as sleep } from 'node:timers/promises';
import type { BackgroundTask } from './background-task.ts';
import { isDependencyOutage } from './dependency-errors.ts';
import type { Logger } from './log.ts';

/** A failing task waits longer between ticks, doubling from its interval up to this. */
const MAX_BACKOFF_MS = 5000;
/** Stop waits this long at most for the tick in hand (its work is transactional or idempotent). */
const STOP_TIMEOUT_MS = 5000;

/**
 * A task that runs `tick` every `intervalMs` (never two at once), and on stop waits (bounded) for
 * the tick in hand to finish so no half-done work is abandoned. While its ticks fail (a dependency is
 * away), it backs off and logs the first failure, every 20th and the recovery, not one line per
 * tick: an outage of minutes must not bury the log.
 */
export function periodicTask(name: string, intervalMs: number, log: Logger, tick: () => Promise<void>): BackgroundTask {
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> | undefined;
  let running = false;
  let failures = 0;

  const succeeded = () => {
    if (failures > 0) log.info({ task: name, failures }, 'periodic task recovered');
    failures = 0;
  };
  const failed = (error: unknown) => {
    failures += 1;
    if (failures === 1 || failures % 20 === 0) {
      const outage = isDependencyOutage(error);
      log[outage ? 'warn' : 'error']({ err: error, task: name, failures }, outage ? 'periodic task failed: a dependency is unavailable; backing off' : 'periodic task failed');
    }
  };

  const schedule = () => {
    const delay = failures === 0 ? intervalMs : Math.min(Math.max(intervalMs, MAX_BACKOFF_MS), intervalMs * 2 ** failures);
    timer = setTimeout(() => {
      current = tick()
        .then(succeeded, failed)
        .finally(() => {
          current = undefined;
          if (running) schedule();
        });
    }, delay);
  };

  return {
    name,
    async start() {
      running = true;
      schedule();
    },
    async stop() {
      running = false;
      clearTimeout(timer);
      if (current) await Promise.race([current, sleep(STOP_TIMEOUT_MS)]);
    },
  };
}
