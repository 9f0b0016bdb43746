/**
 * Migrations: a fresh database gets every table; running again applies nothing and
 * changes nothing; several migrators at once (in one process and across processes) all succeed
 * and record each version exactly once.
 */
import { spawn } from 'node:child_process';
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createConnection } from 'mysql2/promise';
import { loadMigrations, migrate } from '../../src/db/migrate.ts';
import { dropDatabase, testEnv } from '../support/env.ts';

const ROOT = new URL('../../', import.meta.url);

const EXPECTED_TABLES = [
  'admin_audit',
  'activities',
  'activity_stock',
  'commodities',
  'orders',
  'outbox',
  'payments',
  'schema_migrations',
  'user_quota',
];

async function withConnection<T>(url: string, fn: (conn: Awaited<ReturnType<typeof createConnection>>) => Promise<T>): Promise<T> {
  const conn = await createConnection({ uri: url });
  try {
    return await fn(conn);
  } finally {
    await conn.end();
  }
}

async function tables(url: string): Promise<string[]> {
  return withConnection(url, async (conn) => {
    const [rows] = await conn.query('SHOW TABLES');
    return (rows as Array<Record<string, string>>).map((r) => Object.values(r)[0]!).sort();
  });
}

/** SHOW CREATE TABLE of every table but schema_migrations, AUTO_INCREMENT counters left out. */
async function schema(url: string): Promise<Map<string, string>> {
  return withConnection(url, async (conn) => {
    const result = new Map<string, string>();
    for (const table of await tables(url)) {
      if (table === 'schema_migrations') continue;
      const [rows] = await conn.query(`SHOW CREATE TABLE \`${table}\``);
      const ddl = (rows as Array<Record<string, string>>)[0]!['Create Table']!;
      result.set(table, ddl.replace(/ AUTO_INCREMENT=\d+/, ''));
    }
    return result;
  });
}

async function recordedVersions(url: string): Promise<Array<{ version: number; n: number }>> {
  return withConnection(url, async (conn) => {
    const [rows] = await conn.query('SELECT version, COUNT(*) AS n FROM schema_migrations GROUP BY version ORDER BY version');
    return (rows as Array<{ version: number; n: number }>).map((r) => ({ version: Number(r.version), n: Number(r.n) }));
  });
}

/** Runs migrate(url) in a child `node` process; resolves with its JSON result. */
function migrateInChild(url: string): Promise<string[]> {
  const code = `
    const { migrate } = await import(${JSON.stringify(new URL('src/db/migrate.ts', ROOT).href)});
    const ran = await migrate(process.env.MIGRATE_URL);
    process.stdout.write(JSON.stringify(ran));
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], {
      cwd: ROOT,
      env: { ...process.env, MIGRATE_URL: url },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (exitCode) => {
      clearTimeout(timer);
      if (exitCode !== 0) return reject(new Error(`migrate child exited ${exitCode}: ${stderr}`));
      try {
        resolve(JSON.parse(stdout) as string[]);
      } catch {
        reject(new Error(`migrate child printed ${JSON.stringify(stdout)}; stderr ${stderr}`));
      }
    });
  });
}

describe('migrations', () => {
  const env = testEnv({}, 'mig');
  const url = env.config.mysql.url;
  const extraDatabases: string[] = [];
  const freshUrl = () => {
    const database = `${env.config.mysql.database}_${extraDatabases.length + 1}`;
    extraDatabases.push(database);
    const u = new URL(url);
    u.pathname = `/${database}`;
    return u.toString();
  };

  after(async () => {
    for (const database of extraDatabases) await dropDatabase(database);
    await env.cleanup();
  });

  test('a fresh database gets every table and records every migration', async () => {
    const migrations = await loadMigrations();
    assert.ok(migrations.length >= 1);
    assert.deepEqual(
      migrations.map((m) => m.version),
      [...new Set(migrations.map((m) => m.version))].sort((a, b) => a - b),
      'versions are unique and ordered',
    );

    const ran = await migrate(url);
    assert.deepEqual(
      ran,
      migrations.map((m) => m.name),
    );
    const found = await tables(url);
    for (const table of EXPECTED_TABLES) assert.ok(found.includes(table), `table ${table} exists (found ${found.join(', ')})`);
    assert.deepEqual(
      await recordedVersions(url),
      migrations.map((m) => ({ version: m.version, n: 1 })),
    );
  });

  test('migrating again applies nothing and leaves the schema unchanged', async () => {
    const before = await schema(url);
    assert.ok(before.size >= EXPECTED_TABLES.length - 1);
    assert.deepEqual(await migrate(url), []);
    assert.deepEqual(await migrate(url), []);
    assert.deepEqual(await schema(url), before);
    const migrations = await loadMigrations();
    assert.deepEqual(
      await recordedVersions(url),
      migrations.map((m) => ({ version: m.version, n: 1 })),
    );
  });

  test('concurrent in-process migrations on a fresh database all succeed, each version recorded once', async () => {
    const target = freshUrl();
    const results = await Promise.all([migrate(target), migrate(target), migrate(target)]);
    const migrations = await loadMigrations();
    const names = migrations.map((m) => m.name);
    // Exactly one of them applied everything; the others found it done.
    assert.equal(results.filter((r) => r.length === names.length).length, 1, JSON.stringify(results));
    assert.equal(results.filter((r) => r.length === 0).length, 2, JSON.stringify(results));
    assert.deepEqual(
      await recordedVersions(target),
      migrations.map((m) => ({ version: m.version, n: 1 })),
    );
    assert.deepEqual(await schema(target), await schema(url));
  });

  test('two processes migrating the same fresh database at once both succeed', async () => {
    const target = freshUrl();
    const results = await Promise.all([migrateInChild(target), migrateInChild(target)]);
    const migrations = await loadMigrations();
    const names = migrations.map((m) => m.name);
    assert.deepEqual([...results].sort((a, b) => a.length - b.length), [[], names], JSON.stringify(results));
    assert.deepEqual(
      await recordedVersions(target),
      migrations.map((m) => ({ version: m.version, n: 1 })),
    );
    assert.deepEqual(await schema(target), await schema(url));
  });
});
