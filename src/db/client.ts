/**
 * The one MySQL pool of the process, behind Kysely. Sessions run in UTC so DATETIME columns and
 * CURRENT_TIMESTAMP mean the same instant on every instance.
 */
import { Kysely, MysqlDialect, sql, type Transaction } from 'kysely';
import { createPool, type Pool, type PoolOptions } from 'mysql2';
import type { Database } from './schema.ts';

export type Db = Kysely<Database>;
/** A transaction: every repository function takes one wherever it takes a Db. */
export type Trx = Transaction<Database>;

export function poolOptions(url: string, extra: PoolOptions = {}): PoolOptions {
  return {
    uri: url,
    timezone: 'Z',
    supportBigNumbers: true,
    bigNumberStrings: true,
    decimalNumbers: true,
    connectionLimit: 10,
    connectTimeout: 5000,
    enableKeepAlive: true,
    ...extra,
  };
}

export function createDb(url: string, extra: PoolOptions = {}): { db: Db; pool: Pool } {
  const pool = createPool(poolOptions(url, extra));
  pool.on('connection', (connection) => {
    connection.query("SET time_zone = '+00:00'");
  });
  const db = new Kysely<Database>({ dialect: new MysqlDialect({ pool }) });
  return { db, pool };
}

export async function pingDb(db: Db): Promise<void> {
  await sql`SELECT 1`.execute(db);
}
