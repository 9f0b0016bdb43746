/** MariaDB as a managed service: Debian's mariadb-server, its system data directory, run as root. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import { endpointOf, env, parseUrl } from './addresses.ts';
import { type Endpoint, ensureCommand, LOCAL, PROBE_TIMEOUT_MS, requireRoot, run } from './process.ts';
import { type Service, startDetached } from './service.ts';

const MARIADB_DATADIR = '/var/lib/mysql';

/** The MariaDB of SECKILL_MYSQL_URL (both topologies share it), files in .local/mariadb. */
export function mariadbService(): Service {
  const url = parseUrl('SECKILL_MYSQL_URL', env('SECKILL_MYSQL_URL', 'mysql://root@127.0.0.1:3306/seckill'));
  const endpoint = endpointOf(url, 3306);
  let server = '';
  const service: Service = {
    name: 'mariadb',
    dir: join(LOCAL, 'mariadb'),
    endpoint,
    program: 'mariadbd',
    startTimeoutMs: 30_000,
    probe: () => probeMariadb(url, endpoint),
    prepare: () => {
      server = ensureCommand('mariadbd', 'mariadb-server');
      requireRoot('starting MariaDB');
      prepareMariadbDatadir();
    },
    start: () =>
      startDetached(service, server, [
        `--port=${endpoint.port}`,
        `--bind-address=${endpoint.host}`,
        // Errors to stderr, i.e. our log, instead of Debian's /var/log/mysql/error.log.
        '--skip-log-error',
      ]),
  };
  return service;
}

function prepareMariadbDatadir(): void {
  if (!existsSync(join(MARIADB_DATADIR, 'mysql'))) {
    // "normal" gives root a password-less login over TCP, as the default SECKILL_MYSQL_URL expects
    // (Debian's default, unix_socket, only admits root over the local socket).
    run(ensureCommand('mariadb-install-db', 'mariadb-server'), [
      '--user=mysql',
      `--datadir=${MARIADB_DATADIR}`,
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
    ]);
  }
  // The socket and pid directory; on a booted system the init script creates it.
  run('install', ['-d', '-o', 'mysql', '-g', 'mysql', '/run/mysqld']);
}

async function probeMariadb(url: URL, { host, port }: Endpoint): Promise<void> {
  // No database selected: creating it is the migrations' job (src/db/migrate.ts).
  const connection = await createConnection({
    host,
    port,
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    connectTimeout: PROBE_TIMEOUT_MS,
  });
  try {
    await connection.query('SELECT 1');
  } finally {
    await connection.end();
  }
}
