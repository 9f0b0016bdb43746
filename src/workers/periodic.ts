import type { BackgroundTask } from '../app.ts';
import type { Logger } from '../log.ts';

/**
 * A task that runs `tick` every `intervalMs` (never two at once), and on stop waits for the tick
 * in hand to finish so no half-done work is abandoned.
 */
export function periodicTask(name: string, intervalMs: number, log: Logger, tick: () => Promise<void>): BackgroundTask {
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> | undefined;
  let running = false;

  const schedule = () => {
    timer = setTimeout(() => {
      current = tick()
        .catch((error: unknown) => log.error({ err: error, task: name }, 'periodic task failed'))
        .finally(() => {
          current = undefined;
          if (running) schedule();
        });
    }, intervalMs);
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
      await current;
    },
  };
}
