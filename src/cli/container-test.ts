/**
 * `make container-test` (opt-in, not part of `make test`): builds the Dockerfile with podman on a
 * locally made base image, runs the image against this machine's Redis, MariaDB and Kafka (its own
 * database, key prefix and topic prefix), and checks what a deployment relies on:
 *
 *   - it becomes ready (/readyz 200) and its HEALTHCHECK passes;
 *   - PID 1 is the server itself, running as the unprivileged user;
 *   - the web pages were built into the image (/admin 200);
 *   - one real purchase: 202 from the API, then the order reaches PENDING_PAYMENT in MySQL via Kafka;
 *   - `podman stop` (SIGTERM) drains it: exit code 0 well before the stop timeout's SIGKILL.
 *
 * It removes the container, the image it built and the data it made; the base images and the
 * debootstrap tar (.local/container/) stay as a cache for the next run.
 *
 * Flags: --keep (leave the container and image for a look on failure).
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { deleteKafkaTopics, deleteRedisPrefix, dropDatabase } from '../demo/cleanup.ts';
import { freePort } from '../demo/service.ts';
import { DEBIAN_IMAGE, ensureBaseImage } from '../container/base-image.ts';
import { CONTAINER_FLAGS, ensureTools, podman, podmanStreamed } from '../container/podman.ts';
import { parseCommandLine } from './command-line.ts';

const { values: flags } = parseCommandLine(
  {
    name: 'container-test',
    usage: `usage: node_modules/.bin/node src/cli/container-test.ts [--keep]        (make container-test)

Builds the Dockerfile with podman (podman, runc and debootstrap are installed from Debian's packages
when missing; the base images are made locally: a debootstrap Debian bookworm, cached in
.local/container/, plus this project's Node and this machine's npm), runs the image against this
machine's Redis, MariaDB and Kafka with its own database, key prefix and topic prefix, and checks
/readyz, the HEALTHCHECK, PID 1 (the server, unprivileged), one Node in the image (the project's), /admin, one
purchase reaching PENDING_PAYMENT, and that SIGTERM stops it with exit code 0. Removes what it made.
Exit 0 when every check passed, 1 otherwise.

  --keep   leave a failed run's container and image for a look

Needs the services up (npm run services) at SECKILL_REDIS_URL, SECKILL_MYSQL_URL (its server; the
database name is the test's own) and SECKILL_KAFKA_BROKERS; SECKILL_DEBIAN_MIRROR overrides the
Debian mirror (default: the one apt uses). More: README.md, "Containers".`,
  },
  { options: { keep: { type: 'boolean' } } },
);

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const IMAGE = 'localhost/seckill:container-test';
const READY_WITHIN_MS = 180_000;
const ORDER_WITHIN_MS = 120_000;
/** podman stop's grace before SIGKILL; a clean drain takes a second or two. */
const STOP_TIMEOUT_S = 30;

const log = (line: string) => console.log(`container-test: ${line}`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

class CheckFailed extends Error {}
function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new CheckFailed(message);
}

interface Reply {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON answers of the API.
  body: any;
}

async function call(url: string, method: string, path: string, options: { token?: string; body?: unknown } = {}): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(url + path, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    // not JSON (an HTML page): keep the text
  }
  return { status: response.status, body };
}

async function containerState(name: string): Promise<{ status: string; exitCode: number }> {
  const [status = '', exitCode = ''] = (await podman(['inspect', name, '--format', '{{.State.Status}} {{.State.ExitCode}}'])).trim().split(' ');
  return { status, exitCode: Number(exitCode) };
}

async function waitReady(url: string, name: string): Promise<void> {
  const by = Date.now() + READY_WITHIN_MS;
  while (Date.now() < by) {
    const status = await call(url, 'GET', '/readyz').then(
      (reply) => reply.status,
      () => 0,
    );
    if (status === 200) return;
    const state = await containerState(name);
    check(state.status === 'running', `the container stopped before it was ready (${state.status}, exit ${state.exitCode})`);
    await sleep(500);
  }
  throw new CheckFailed(`/readyz did not answer 200 within ${READY_WITHIN_MS / 1000} s`);
}

/** One purchase through the real API; resolves when MySQL has the order as PENDING_PAYMENT. */
async function purchaseOnce(url: string, opsUrl: string, adminToken: string): Promise<string> {
  const admin = { token: adminToken };
  const commodity = await call(opsUrl, 'POST', '/api/v1/admin/commodities', { ...admin, body: { name: 'Container bottle', priceCents: 990 } });
  check(commodity.status === 201, `create commodity: ${commodity.status} ${JSON.stringify(commodity.body)}`);
  const activity = await call(opsUrl, 'POST', '/api/v1/admin/activities', {
    ...admin,
    body: {
      name: 'Container sale',
      commodityId: commodity.body.commodity.id,
      priceCents: 990,
      stock: 5,
      startAt: new Date(Date.now() - 60_000).toISOString(),
      endAt: new Date(Date.now() + 3_600_000).toISOString(),
    },
  });
  check(activity.status === 201, `create activity: ${activity.status} ${JSON.stringify(activity.body)}`);
  const activityId: string = activity.body.activity.id;

  const dev = await call(url, 'POST', '/api/v1/dev/token', { body: { userId: 'container-buyer' } });
  check(dev.status === 200 && typeof dev.body?.token === 'string', `dev token: ${dev.status} ${JSON.stringify(dev.body)}`);
  const token: string = dev.body.token;

  const purchase = await call(url, 'POST', `/api/v1/activities/${activityId}/purchase`, { token, body: { requestId: 'container-1' } });
  check(purchase.status === 202, `purchase: ${purchase.status} ${JSON.stringify(purchase.body)}`);
  const orderId: string = purchase.body.orderId;
  log(`purchase: 202 ${JSON.stringify(purchase.body)}`);

  const by = Date.now() + ORDER_WITHIN_MS;
  let last: Reply | undefined;
  while (Date.now() < by) {
    last = await call(url, 'GET', `/api/v1/orders/${orderId}`, { token });
    if (last.status === 200 && last.body.order.status === 'PENDING_PAYMENT') return orderId;
    check(last.status === 200 || last.status === 404, `order ${orderId}: ${last.status} ${JSON.stringify(last.body)}`);
    check(last.body?.order?.status !== 'FAILED', `order ${orderId} FAILED: ${JSON.stringify(last.body)}`);
    await sleep(250);
  }
  throw new CheckFailed(`order ${orderId} did not reach PENDING_PAYMENT within ${ORDER_WITHIN_MS / 1000} s (last: ${JSON.stringify(last?.body)})`);
}

async function main(): Promise<number> {
  const keep = flags.keep === true;
  const id = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const name = `seckill-ct-${id}`;
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  // The image's ops listener (9090) would be the host's own port under host networking.
  const opsPort = await freePort();
  const opsUrl = `http://127.0.0.1:${opsPort}`;
  const mysqlServer = (process.env.SECKILL_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/seckill').replace(/\/[^/]*$/, '');
  const redisUrl = process.env.SECKILL_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const brokers = process.env.SECKILL_KAFKA_BROKERS ?? '127.0.0.1:9092';
  const adminToken = `ct-admin-${randomBytes(12).toString('hex')}`;
  const env: Record<string, string> = {
    PORT: String(port),
    // Host networking: keep it on loopback, not on every interface the image's 0.0.0.0 would open.
    HOST: '127.0.0.1',
    SECKILL_OPS_PORT: String(opsPort),
    SECKILL_OPS_HOST: '127.0.0.1',
    SECKILL_MYSQL_URL: `${mysqlServer}/seckill_ct_${id}`,
    SECKILL_REDIS_URL: redisUrl,
    SECKILL_REDIS_PREFIX: `ct_${id}`,
    SECKILL_KAFKA_BROKERS: brokers,
    SECKILL_KAFKA_TOPIC_PREFIX: `ct_${id}`,
    SECKILL_JWT_SECRET: `ct-jwt-${randomBytes(12).toString('hex')}`,
    SECKILL_ADMIN_TOKEN: adminToken,
    SECKILL_PAYMENT_SECRET: `ct-pay-${randomBytes(12).toString('hex')}`,
    SECKILL_DEV_TOKENS: '1',
    SECKILL_LOG_LEVEL: 'info',
  };
  let started = false;
  let failed = true;
  try {
    await ensureTools(log);
    const base = await ensureBaseImage(ROOT, log);

    let t = performance.now();
    // The runtime stage gets the plain Debian: the image must carry no Node but the project's.
    log(`podman build ${IMAGE} --build-arg BASE_IMAGE=${base} --build-arg RUNTIME_IMAGE=${DEBIAN_IMAGE}`);
    await podmanStreamed(
      [
        'build',
        ...CONTAINER_FLAGS,
        '--format',
        'docker',
        '--layers=false',
        '--build-arg',
        `BASE_IMAGE=${base}`,
        '--build-arg',
        `RUNTIME_IMAGE=${DEBIAN_IMAGE}`,
        '-t',
        IMAGE,
        '-f',
        'Dockerfile',
        '.',
      ],
      30 * 60_000,
      ROOT,
    );
    const buildSeconds = ((performance.now() - t) / 1000).toFixed(0);

    t = performance.now();
    const envArgs = Object.entries(env).flatMap(([key, value]) => ['--env', `${key}=${value}`]);
    // No --init: the image itself must stop cleanly with the server as PID 1. No health timer
    // (no systemd here); the HEALTHCHECK is run by hand below.
    await podman(['run', '--detach', '--name', name, ...CONTAINER_FLAGS, '--health-interval', 'disable', ...envArgs, IMAGE]);
    started = true;
    await waitReady(url, name);
    log(`ready in ${((performance.now() - t) / 1000).toFixed(1)} s on ${url}`);

    await podman(['healthcheck', 'run', name], 30_000).catch((error: unknown) => {
      throw new CheckFailed(`HEALTHCHECK failed: ${(error as Error).message}`);
    });
    log('HEALTHCHECK passes');

    const top = (await podman(['top', name, 'user', 'pid', 'args'])).trim().split('\n').slice(1);
    const pid1 = top.map((line) => line.trim().split(/\s+/)).find((fields) => fields[1] === '1');
    check(pid1 !== undefined, `no PID 1 in podman top:\n${top.join('\n')}`);
    check(pid1[0] === 'seckill', `PID 1 runs as ${pid1[0]}, not the unprivileged user seckill`);
    check(pid1.slice(2).join(' ').endsWith('node src/cli/serve.ts'), `PID 1 is not the server: ${pid1.slice(2).join(' ')}`);
    log(`PID 1 is the server, user ${pid1[0]}`);

    // One Node: no executable named node outside the project's node_modules (a base image's own
    // /usr/local/bin/node would be a second runtime), and the project's is the one on PATH.
    const others = (await podman(['exec', name, 'sh', '-c', "find / -xdev -type f -name node -perm -u+x -not -path '/app/node_modules/*' 2>/dev/null; true"])).trim();
    check(others === '', `a Node outside the project's node_modules: ${others.split('\n').join(', ')}`);
    const project = (await podman(['exec', name, 'node', '--version'])).trim();
    const pinned = (JSON.parse(await readFile(new URL('../../node_modules/node/package.json', import.meta.url), 'utf8')) as { version: string }).version;
    check(project === `v${pinned}`, `node on PATH is ${project}, not the project's v${pinned}`);
    log(`one Node in the image: ${project}`);

    const page = await call(opsUrl, 'GET', '/admin');
    check(page.status === 200 && String(page.body).includes('<html'), `/admin: ${page.status} (web pages missing from the image?)`);
    const hidden = await call(url, 'GET', '/metrics');
    check(hidden.status === 404, `/metrics on the public port: ${hidden.status}, expected 404`);
    log('/admin serves the bundled dashboard on the ops listener; the public port hides /metrics');

    t = performance.now();
    const orderId = await purchaseOnce(url, opsUrl, adminToken);
    log(`order ${orderId} is PENDING_PAYMENT after ${((performance.now() - t) / 1000).toFixed(1)} s`);

    t = performance.now();
    await podman(['stop', '--time', String(STOP_TIMEOUT_S), name], (STOP_TIMEOUT_S + 30) * 1000);
    const stopSeconds = (performance.now() - t) / 1000;
    const state = await containerState(name);
    check(state.status === 'exited', `after podman stop the container is ${state.status}`);
    check(state.exitCode === 0, `exit code ${state.exitCode} after SIGTERM (137: it was killed after the ${STOP_TIMEOUT_S} s grace)`);
    check(stopSeconds < STOP_TIMEOUT_S, `stop took ${stopSeconds.toFixed(1)} s: SIGTERM was not acted on`);
    log(`podman stop: exit 0 in ${stopSeconds.toFixed(1)} s`);

    log(`PASSED (image built in ${buildSeconds} s)`);
    failed = false;
    return 0;
  } catch (error) {
    console.error(`container-test: FAILED: ${error instanceof Error ? error.message : String(error)}`);
    if (started) {
      const logs = await podman(['logs', '--tail', '40', name]).catch(() => '');
      if (logs) console.error(`container-test: the container's last log lines:\n${logs}`);
    }
    return 1;
  } finally {
    if (keep && failed) {
      log(`--keep: left container ${name} and image ${IMAGE}`);
    } else {
      if (started) await podman(['rm', '--force', name]).catch((error: unknown) => log(`cleanup: ${(error as Error).message}`));
      await podman(['rmi', '--force', IMAGE]).catch(() => undefined);
    }
    for (const problem of [
      await dropDatabase(env.SECKILL_MYSQL_URL ?? ''),
      await deleteRedisPrefix(redisUrl, env.SECKILL_REDIS_PREFIX ?? ''),
      await deleteKafkaTopics(brokers.split(','), env.SECKILL_KAFKA_TOPIC_PREFIX ?? ''),
    ]) {
      if (problem) log(`cleanup: ${problem}`);
    }
  }
}

process.exitCode = await main();
