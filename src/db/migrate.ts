/**
 * Numbered SQL migrations, applied at start. Safe when several processes start at once: the
 * database is created with IF NOT EXISTS, and the migrations themselves run under a MariaDB named
 * lock, so the second process waits, then finds every version already recorded and does nothing.
 */
import { readdir, readFile } from 'node:fs/promises';
import { createConnection } from 'mysql2/promise';

const MIGRATIONS_DIR = new URL('./migrations/', import.meta.url);
const LOCK_TIMEOUT_SECONDS = 60;

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export async function loadMigrations(): Promise<Migration[]> {
  const files = (await readdir(MIGRATIONS_DIR)).filter((f) => /^\d+_.+\.sql$/.test(f)).sort();
  return Promise.all(
    files.map(async (file) => ({
      version: Number.parseInt(file, 10),
      name: file,
      sql: await readFile(new URL(file, MIGRATIONS_DIR), 'utf8'),
    })),
  );
}

/** Creates the database named in the URL if missing, then applies pending migrations; returns their names. */
export async function migrate(url: string): Promise<string[]> {
  const target = new URL(url);
  const database = decodeURIComponent(target.pathname.replace(/^\//, ''));
  const server = new URL(url);
  server.pathname = '/';
  const admin = await createConnection({ uri: server.toString(), connectTimeout: 5000 });
  try {
    await admin.query(`CREATE DATABASE IF NOT EXISTS \`${database}\` CHARACTER SET utf8mb4`);
  } finally {
    await admin.end();
  }

  const conn = await createConnection({ uri: url, multipleStatements: true, connectTimeout: 5000 });
  const lockName = `seckill_migrate_${database}`;
  try {
    const [rows] = await conn.query('SELECT GET_LOCK(?, ?) AS got', [lockName, LOCK_TIMEOUT_SECONDS]);
    if ((rows as Array<{ got: number }>)[0]?.got !== 1) throw new Error(`could not take migration lock ${lockName}`);
    await conn.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INT NOT NULL PRIMARY KEY,
      name VARCHAR(200) NOT NULL,
      applied_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
    ) ENGINE=InnoDB`);
    const [done] = await conn.query('SELECT version FROM schema_migrations');
    const applied = new Set((done as Array<{ version: number }>).map((r) => r.version));
    const ran: string[] = [];
    for (const migration of await loadMigrations()) {
      if (applied.has(migration.version)) continue;
      // DDL is not transactional in MariaDB; every statement is written IF NOT EXISTS so a crash
      // half-way through a file is repaired by simply running it again.
      await conn.query(migration.sql);
      await conn.query('INSERT INTO schema_migrations (version, name) VALUES (?, ?)', [migration.version, migration.name]);
      ran.push(migration.name);
    }
    return ran;
  } finally {
    await conn.query('SELECT RELEASE_LOCK(?)', [lockName]).catch(() => {});
    await conn.end();
  }
}
