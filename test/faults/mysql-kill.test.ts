/**
 * Fault: for several seconds, every MySQL connection the service holds to its database is killed
 * (KILL CONNECTION, every 50 ms, from a connection of the suite's own that names no database and
 * so is never a target) while the crowd buys. The order worker must treat it as the transient
 * error it is: retry, never dead-letter a winner, never leave a unit stranded in MySQL or Redis;
 * the API answers 503 BUSY with Retry-After, never 500.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { createConnection, type RowDataPacket } from 'mysql2/promise';
import { MYSQL_SERVER } from '../support/env.ts';
import { checkRun } from './support/checks.ts';
import { DEFAULT_SHAPE, Harness } from './support/harness.ts';

const TROUBLE_MS = 5000;
// Often enough that a connection the worker opens is killed before its transaction commits: MySQL
// is effectively unreachable for the whole window, not just briefly hiccuping.
const EVERY_MS = 50;

describe("fault: the service's MySQL connections killed repeatedly", () => {
  const harness = new Harness('mysqlkill');
  before(() => harness.setUp());
  after(() => harness.tearDown());

  test('keeps every promise; no winner dead-lettered, no 500', async () => {
    let killed = 0;
    // Many orders to persist while the connections die: a larger sale, faster buyers.
    const shape = { ...DEFAULT_SHAPE, stock: 400, arrivalsPerSec: 80, faultAfterShare: 0.25 };
    const run = await harness.runSale(async ({ mark }) => {
      const killer = await createConnection({ uri: MYSQL_SERVER });
      try {
        mark('killing connections');
        const until = Date.now() + TROUBLE_MS;
        while (Date.now() < until) {
          const [rows] = await killer.query<RowDataPacket[]>('SELECT id FROM information_schema.processlist WHERE db = ? AND id <> CONNECTION_ID()', [harness.database]);
          for (const row of rows) {
            try {
              await killer.query(`KILL CONNECTION ${Number(row['id'])}`);
              killed++;
            } catch {
              // it ended by itself in between
            }
          }
          await sleep(EVERY_MS);
        }
        mark(`stopped killing (${killed} killed)`);
      } finally {
        await killer.end();
      }
    }, shape);
    await checkRun(harness, run, {
      extra: { 'the fault really happened': killed === 0 ? ['no service connection was found to kill'] : [] },
    });
  });
});
