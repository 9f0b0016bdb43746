/**
 * Waitlist passes in the worker role: offers expire in seconds, so a frequent pass expires unused
 * offers and hands their units to the next waiting user (or back to open sale when nobody waits).
 */
import { listOpenActivities } from '../db/repositories/catalog.ts';
import type { Db } from '../db/client.ts';
import type { Logger } from '../platform/log.ts';
import { periodicTask } from '../platform/periodic.ts';
import type { Waitlist } from './waitlist.ts';

export function createWaitlistTask(db: Db, waitlist: Waitlist, log: Logger, intervalMs = 500) {
  return periodicTask('waitlist', intervalMs, log, async () => {
    for (const activity of await listOpenActivities(db, new Date())) await waitlist.pass(activity);
  });
}
