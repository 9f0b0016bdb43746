/**
 * Every command-line entry point (src/cli/*.ts and bench/*.ts that nothing imports) answers
 * `--help` with its usage and exit code 0, and does nothing else: `serve.ts --help` used to start a
 * server with default settings, creating a database and topics, and the benchmarks answered with
 * a stack trace. An unknown flag is one line naming it, exit code 2.
 *
 * "Nothing else" is checked from outside: Redis, MySQL and Kafka addresses in the environment point
 * at listeners of this test that count connections (none may arrive), and `serve.ts --help` is also
 * run against the real MariaDB with a database name of its own, which must not exist afterwards.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { createConnection } from 'mysql2/promise';
import { loadConfig } from '../../src/config.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MYSQL_SERVER = (process.env.SECKILL_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/seckill').replace(/\/[^/]*$/, '');

function tsFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath, e.name));
}

/** Files some other file imports (`from './x.ts'`): modules, not entry points. */
function importedFiles(): Set<string> {
  const imported = new Set<string>();
  for (const file of [...tsFiles('src'), ...tsFiles('bench'), ...tsFiles('test'), ...tsFiles('web')]) {
    for (const [, spec] of readFileSync(file, 'utf8').matchAll(/\bfrom\s+'(\.{1,2}\/[^']+\.ts)'/g)) imported.add(resolve(dirname(file), spec as string));
  }
  return imported;
}

/** The entry points: src/cli/*.ts and bench/*.ts (not their subfolders) that nothing imports. */
function entryPoints(): string[] {
  const imported = importedFiles();
  return ['src/cli', 'bench']
    .flatMap((dir) => readdirSync(join(ROOT, dir)).filter((name) => name.endsWith('.ts')).map((name) => join(ROOT, dir, name)))
    .filter((file) => !imported.has(file))
    .map((file) => relative(ROOT, file))
    .sort();
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolvePromise, reject) => {
    // The Node the project installs, as the test runner itself runs on.
    const child = spawn(process.execPath, [file, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // A command that ignores --help and starts working is stopped here, and fails below.
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

/** A TCP listener that counts the connections it gets (and drops them). */
async function countingListener(): Promise<{ server: Server; port: number; connections: () => number }> {
  let count = 0;
  const server = createServer((socket) => {
    count++;
    socket.destroy();
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const address = server.address();
  return { server, port: typeof address === 'object' && address ? address.port : 0, connections: () => count };
}

describe('every command-line entry point answers --help and refuses unknown flags', () => {
  const listeners: Array<Awaited<ReturnType<typeof countingListener>>> = [];
  let env: Record<string, string> = {};
  const entries = entryPoints();

  before(async () => {
    for (let i = 0; i < 3; i++) listeners.push(await countingListener());
    const [redis, mysql, kafka] = listeners.map((l) => l.port);
    env = {
      SECKILL_REDIS_URL: `redis://127.0.0.1:${redis}`,
      SECKILL_MYSQL_URL: `mysql://root@127.0.0.1:${mysql}/seckill_clihelp`,
      SECKILL_KAFKA_BROKERS: `127.0.0.1:${kafka}`,
    };
  });

  after(async () => {
    await Promise.all(listeners.map((l) => new Promise((ok) => l.server.close(ok))));
  });

  it('finds the entry points: the four CLIs and the benchmarks', () => {
    for (const cli of ['src/cli/serve.ts', 'src/cli/services.ts', 'src/cli/demo.ts', 'src/cli/container-test.ts', 'bench/purchase.ts', 'bench/persistence.ts', 'bench/read-path.ts', 'bench/scale-out.ts']) {
      assert.ok(entries.includes(cli), `${cli} is an entry point (found: ${entries.join(', ')})`);
    }
    assert.ok(!entries.includes('bench/lib.ts') && !entries.includes('src/cli/command-line.ts'), 'modules are not entry points');
  });

  for (const entry of entryPoints()) {
    it(`${entry} --help prints its usage, exits 0 and touches nothing`, async () => {
      const before = listeners.map((l) => l.connections());
      const result = await run(entry, ['--help'], env);
      assert.equal(result.code, 0, `exit code (stderr: ${result.stderr})`);
      assert.match(result.stdout, /^usage: \S/, 'starts with a usage line');
      assert.ok(result.stdout.includes(entry), 'the usage names the file it runs');
      assert.equal(result.stderr, '', 'nothing on stderr');
      if (entry.startsWith('src/cli/')) assert.match(result.stdout, /README\.md/, 'points to the README');
      // A moment for connections the child may have opened just before exiting to be accepted.
      await new Promise((ok) => setTimeout(ok, 100));
      assert.deepEqual(
        listeners.map((l) => l.connections()),
        before,
        'no connection to Redis, MySQL or Kafka (so no database, key or topic was made)',
      );
    });

    it(`${entry} with an unknown flag: one line naming it, exit code 2`, async () => {
      const result = await run(entry, ['--no-such-flag'], env);
      assert.equal(result.code, 2, `exit code (stderr: ${result.stderr})`);
      const lines = result.stderr.trim().split('\n');
      assert.equal(lines.length, 1, `one line: ${result.stderr}`);
      assert.match(lines[0] ?? '', /unknown option --no-such-flag/);
      assert.equal(result.stdout, '');
    });
  }

  it('serve.ts --help against the real MariaDB creates no database', async () => {
    const database = `seckill_clihelp_${randomBytes(4).toString('hex')}`;
    const result = await run('src/cli/serve.ts', ['--help'], { SECKILL_MYSQL_URL: `${MYSQL_SERVER}/${database}` });
    assert.equal(result.code, 0, result.stderr);
    const conn = await createConnection({ uri: MYSQL_SERVER });
    try {
      const [rows] = await conn.query('SHOW DATABASES LIKE ?', [database]);
      assert.deepEqual(rows, [], `database ${database} does not exist`);
    } finally {
      await conn.query(`DROP DATABASE IF EXISTS \`${database}\``);
      await conn.end();
    }
  });

  it('serve.ts --help lists every variable the service reads', async () => {
    const read = new Set<string>();
    loadConfig(
      new Proxy({} as Record<string, string | undefined>, {
        get(_target, key) {
          if (typeof key === 'string') read.add(key);
          return undefined;
        },
      }),
    );
    const { stdout } = await run('src/cli/serve.ts', ['--help'], env);
    const missing = [...read].filter((name) => !new RegExp(`\\b${name}\\b`).test(stdout));
    assert.deepEqual(missing, [], 'variables missing from the usage');
  });
});
