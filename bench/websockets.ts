/**
 * WebSockets at the size of a crowd: memory and CPU per open connection, so "N waiting tabs need M API processes"
 * is a measured figure. The service runs as several instances of the API role (one process each, own port, one
 * deployment: they share Redis, MySQL and Kafka), at most 17,000 sockets each (a process may hold 20,000
 * descriptors here). node:cluster is not used: its primary hands every accepted connection to a worker and,
 * on two busy cores, capped the ramp at ~600 sockets/s. Native clients (bench/wsload/wsload.c, one process per
 * instance, each from its own source address 127.0.0.x so the ephemeral ports do not run out) open the
 * connections and answer pings as browsers do. Then, measured from /proc (every instance):
 *   - baseline: the processes idle, before any socket;
 *   - held: every socket open, heartbeats only (SECKILL_WS_HEARTBEAT_MS shortened so several sweeps fall in);
 *   - pushes: order-status messages published on the real pub/sub channel at --rate per second, each to one
 *     random connected user (every process parses it, the owner's process sends it).
 * Bounded in time (every phase has a deadline; the clients exit by themselves) and on 127.0.0.1 only.
 * `node_modules/.bin/node bench/websockets.ts [--connections N] [--rate R] [--seconds S] [--smoke]`
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createSigner } from 'fast-jwt';
import { Redis } from 'ioredis';
import { parseCommandLine } from '../src/cli/command-line.ts';
import { dropServiceData } from '../src/demo/cleanup.ts';
import { demoEnv, freePort, type RunningService, startService } from '../src/demo/service.ts';
import { createKeys } from '../src/redis/keys.ts';
import { writeTokens } from './lib.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const WSLOAD_SOURCE = fileURLToPath(new URL('./wsload/wsload.c', import.meta.url));
const WSLOAD = join(ROOT, '.local', 'bench', 'wsload');
/** Sockets per process, client or server: under the 20,000 descriptors a process may hold here. */
const PER_PROCESS = 17_000;

const USAGE = `usage: node_modules/.bin/node bench/websockets.ts [options]

Memory and CPU per open WebSocket: several API instances, native clients (bench/wsload/wsload.c)
opening --connections sockets, then heartbeats only, then pushes at --rate per second.

  --connections N      sockets to open in all [100000]
  --rate R             pushes per second during the pushes window [2000]
  --seconds S          length of the held and pushes windows [10]
  --ramp-seconds S     bound on the ramp [150]
  --heartbeat-ms MS    SECKILL_WS_HEARTBEAT_MS of the instances [5000]
  --smoke              500 sockets, 2 s windows
  --help               this text

Needs the services up (npm run services). Results and the commands that produced them: bench/RESULTS.md.`;

const { values: args } = parseCommandLine(
  { name: 'bench/websockets', usage: USAGE },
  {
    options: {
      connections: { type: 'string', default: '100000' },
      rate: { type: 'string', default: '2000' },
      seconds: { type: 'string', default: '10' },
      'ramp-seconds': { type: 'string', default: '150' },
      'heartbeat-ms': { type: 'string', default: '5000' },
      smoke: { type: 'boolean', default: false },
    },
  },
);
const connections = args.smoke ? 500 : Number(args.connections);
const rate = Number(args.rate);
const windowSeconds = args.smoke ? 2 : Number(args.seconds);
// At smoke size the windows are 2 s: a 500 ms heartbeat still pings within them.
const heartbeatMs = args.smoke ? 500 : Number(args['heartbeat-ms']);
const rampLimitMs = Number(args['ramp-seconds']) * 1000;
const processes = Math.max(1, Math.ceil(connections / PER_PROCESS));
const clients = processes;

interface Usage {
  rssBytes: number;
  cpuSeconds: number;
}

/** RSS and CPU time of the instances, from /proc. */
function usage(pids: number[]): Usage {
  let rssBytes = 0;
  let ticks = 0;
  for (const pid of pids) {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(fields[11]) + Number(fields[12]);
    rssBytes += Number(fields[21]) * 4096;
  }
  return { rssBytes, cpuSeconds: ticks / 100 };
}

interface ClientState {
  child: ChildProcess;
  open: number;
  failed: number;
  messages: number;
  pings: number;
  final?: Record<string, unknown>;
  done: Promise<void>;
}

function startClient(url: URL, tokensFile: string, first: number, count: number, source: string, seconds: number): ClientState {
  const child = spawn(WSLOAD, [url.hostname, url.port, '/api/v1/ws', tokensFile, String(first), String(count), source, '64', String(seconds)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const state: ClientState = { child, open: 0, failed: 0, messages: 0, pings: 0, done: Promise.resolve() };
  state.done = new Promise((resolve) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const parsed = JSON.parse(line) as Record<string, number>;
      Object.assign(state, { open: parsed.open, failed: parsed.failed, messages: parsed.messages, pings: parsed.pings });
      if (parsed.final) state.final = parsed;
    });
    child.on('exit', () => resolve());
  });
  return state;
}

const metricsText = async (url: URL) => (await fetch(new URL('/metrics', url))).text();

/** seckill_ws_closed_total and seckill_ws_refused_total summed over the instances. */
async function closedByReason(urls: URL[]): Promise<Record<string, number>> {
  const totals: Record<string, number> = {};
  for (const url of urls) {
    const text = await metricsText(url);
    for (const [, name, reason, value] of text.matchAll(/^seckill_ws_(closed|refused)_total\{reason="([a-z_]+)"\} (\S+)$/gm)) {
      const key = `${name}:${reason}`;
      totals[key] = (totals[key] ?? 0) + Number(value);
    }
  }
  return Object.fromEntries(Object.entries(totals).filter(([, n]) => n > 0));
}

/** nodejs_eventloop_lag_max_seconds of each instance: prom-client resets it at each scrape, so this is since the last. */
async function loopLagMax(urls: URL[]): Promise<string[]> {
  const texts = await Promise.all(urls.map(metricsText));
  return texts.map((text) => Number(/^nodejs_eventloop_lag_max_seconds (\S+)$/m.exec(text)?.[1]).toFixed(2));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sum = (xs: ClientState[], key: 'open' | 'failed' | 'messages' | 'pings') => xs.reduce((s, c) => s + c[key], 0);
const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(0);
const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');

async function main(): Promise<void> {
  mkdirSync(join(ROOT, '.local', 'bench'), { recursive: true });
  execFileSync('cc', ['-O2', '-o', WSLOAD, WSLOAD_SOURCE], { stdio: 'inherit' });

  const service = await demoEnv({
    paymentTimeoutSeconds: 300,
    extra: {
      SECKILL_ROLES: 'api',
      SECKILL_API_PROCESSES: '1',
      SECKILL_WS_MAX_PER_INSTANCE: String(PER_PROCESS),
      SECKILL_WS_MAX_PER_IP: '0',
      SECKILL_WS_HEARTBEAT_MS: String(heartbeatMs),
      SECKILL_LOG_LEVEL: 'warn',
    },
  });
  const logFile = (i: number) => join(tmpdir(), `seckill-bench-ws-${process.pid}-${i}.log`);
  // The first creates the database and topics; the others then start side by side.
  const instances: Array<{ url: URL; running: RunningService }> = [];
  const start = async (i: number) => {
    const port = await freePort();
    const url = new URL(`http://127.0.0.1:${port}`);
    const running = await startService({ ...service, url: url.origin, env: { ...service.env, PORT: String(port) } }, logFile(i), 90_000);
    instances.push({ url, running });
  };
  const publisher = new Redis(service.redisUrl, { lazyConnect: false });
  const channel = createKeys(service.redisPrefix).orderEventsChannel;
  let clientStates: ClientState[] = [];
  try {
    await start(0);
    await Promise.all(Array.from({ length: processes - 1 }, (_, i) => start(i + 1)));
    const pids = instances.map((i) => i.running.child.pid!);
    await sleep(3000);
    const baseline = usage(pids);
    console.log(`commit ${execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim()} · ${connections} connections · ${processes} instances · ${clients} clients · load average ${load()}`);
    console.log(`baseline: RSS ${mb(baseline.rssBytes)} MB over ${processes} instances`);

    const sign = createSigner({ key: service.jwtSecret, algorithm: 'HS256', expiresIn: 3_600_000 });
    const tokens = Array.from({ length: connections }, (_, i) => sign({ sub: `ws-${i}` }));
    const tokensFile = writeTokens(tokens);

    const per = Math.ceil(connections / clients);
    // The clients outlive every phase below, then exit by themselves.
    const clientSeconds = rampLimitMs / 1000 + 30 + 3 * windowSeconds;
    const rampStart = Date.now();
    const beforeRamp = usage(pids);
    clientStates = Array.from({ length: clients }, (_, k) =>
      startClient(instances[k]!.url, tokensFile, k * per, Math.min(per, connections - k * per), `127.0.0.${10 + k}`, clientSeconds),
    );
    while (sum(clientStates, 'open') + sum(clientStates, 'failed') < connections && Date.now() - rampStart < rampLimitMs) await sleep(500);
    const rampSeconds = (Date.now() - rampStart) / 1000;
    const open = sum(clientStates, 'open');
    const upgradeUs = ((usage(pids).cpuSeconds - beforeRamp.cpuSeconds) * 1e6) / Math.max(1, open);
    console.log(
      `ramp: ${open} open, ${sum(clientStates, 'failed')} failed in ${rampSeconds.toFixed(1)} s (${(open / rampSeconds).toFixed(0)}/s) · ${upgradeUs.toFixed(0)} µs of CPU per upgrade (JWT, routing, handshake)`,
    );
    console.log(`event-loop lag, max over the ramp per instance: ${(await loopLagMax(instances.map((i) => i.url))).join(' / ')} s`);
    await sleep(2000);

    const heldStart = usage(pids);
    const pingsStart = sum(clientStates, 'pings');
    await sleep(windowSeconds * 1000);
    const heldEnd = usage(pids);
    const held = sum(clientStates, 'open');
    const idleCpu = (heldEnd.cpuSeconds - heldStart.cpuSeconds) / windowSeconds;
    const perConn = (heldEnd.rssBytes - baseline.rssBytes) / held;
    console.log(
      `held: ${held} open · RSS ${mb(heldEnd.rssBytes)} MB → ${(perConn / 1024).toFixed(1)} KiB per connection · CPU ${(idleCpu * 100).toFixed(1)} % of a core` +
        ` (heartbeat every ${heartbeatMs} ms, ${sum(clientStates, 'pings') - pingsStart} pings answered) · load average ${load()}`,
    );

    const pushStart = usage(pids);
    const messagesStart = sum(clientStates, 'messages');
    const createdAt = new Date().toISOString();
    const pushUntil = Date.now() + windowSeconds * 1000;
    let published = 0;
    while (Date.now() < pushUntil) {
      const due = Math.floor(((windowSeconds * 1000 - (pushUntil - Date.now())) / 1000) * rate);
      const batch = publisher.pipeline();
      for (; published < due; published++) {
        const userId = `ws-${Math.floor(Math.random() * connections)}`;
        const order = { orderId: String(1e15 + published), activityId: '1', userId, quantity: 1, amountCents: 9900, status: 'PAID', createdAt };
        batch.publish(channel, JSON.stringify(order));
      }
      await batch.exec();
      await sleep(20);
    }
    await sleep(1000);
    const pushEnd = usage(pids);
    const delivered = sum(clientStates, 'messages') - messagesStart;
    const pushCpu = (pushEnd.cpuSeconds - pushStart.cpuSeconds) / (windowSeconds + 1);
    const perMessageUs = ((pushCpu - idleCpu) * (windowSeconds + 1) * 1e6) / Math.max(1, delivered);
    console.log(
      `pushes: ${published} published (${rate}/s), ${delivered} delivered · RSS ${mb(pushEnd.rssBytes)} MB · CPU ${(pushCpu * 100).toFixed(1)} % of a core` +
        ` → ${perMessageUs.toFixed(0)} µs of CPU per push over the held baseline (each of the ${processes} instances parses it) · load average ${load()}`,
    );
    const millionMb = (perConn * 1e6) / 1024 / 1024;
    console.log(
      `a million connections: ${(millionMb / 1024).toFixed(1)} GiB of RSS above the processes' baseline, heartbeats ${((idleCpu * 1e6) / held).toFixed(2)} cores` +
        ` (scaled from ${held} at this heartbeat)`,
    );
    console.log(`closed by the server, by reason: ${JSON.stringify(await closedByReason(instances.map((i) => i.url)))}`);
  } finally {
    for (const c of clientStates) c.child.kill('SIGTERM');
    await Promise.all(clientStates.map((c) => c.done));
    const codes: Record<string, number> = {};
    for (const c of clientStates) {
      for (const [code, n] of Object.entries((c.final?.closeCodes ?? {}) as Record<string, number>)) codes[code] = (codes[code] ?? 0) + n;
    }
    console.log(`clients: close codes received ${JSON.stringify(codes)}, dropped without one ${clientStates.reduce((s, c) => s + Number(c.final?.dropped ?? 0), 0)}`);
    publisher.disconnect();
    await Promise.all(instances.map((i) => i.running.stop()));
    await dropServiceData(service);
  }
}

// Each process may hold this many descriptors; children inherit it.
const NEEDED_FDS = PER_PROCESS + 2000;
if (Number(execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim()) < NEEDED_FDS) {
  if (process.env.WSBENCH_RAISED) throw new Error(`the file-descriptor limit stays below ${NEEDED_FDS}: raise the hard limit`);
  const child = spawn('sh', ['-c', `ulimit -n ${NEEDED_FDS} && exec "$0" "$@"`, process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, WSBENCH_RAISED: '1' },
  });
  child.on('exit', (code) => process.exit(code ?? 1));
} else {
  await main();
}
