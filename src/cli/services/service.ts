/**
 * One managed service (a Redis, a MariaDB, one Kafka node) and the three things `npm run services`
 * does with it: ensure it answers (starting a local copy when nothing does), stop it if this script
 * started it, report its status.
 *
 * Ownership: whatever is started here records its pid in <dir>/<name>.pid and its address beside
 * it in <name>.address; that is how `stop` knows what is ours (never anything else), and how a
 * second run knows not to start another.
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  address,
  attempt,
  type Endpoint,
  isLocal,
  type ProcessRecord,
  runs,
  spawnDetached,
  tcpAnswers,
  waitUntilGone,
} from './process.ts';

const STOP_TIMEOUT_MS = 30_000;

export interface Service {
  /** Names its files and its lines in the output (`redis`, `kafka-2`, `redis-7001`). */
  name: string;
  /** Its own directory under .local/: pid, address and log files, and its working directory. */
  dir: string;
  endpoint: Endpoint;
  /** Resolves when the service answers its own protocol at `endpoint`; rejects with the reason otherwise. */
  probe(): Promise<void>;
  /** Gets everything a start needs (binaries, jars, data directories); may take a while the first time. */
  prepare(): void;
  /** Starts a local copy in the background (through startDetached) and returns its pid. */
  start(): Promise<number>;
  /** What the recorded pid's command line must contain, so a recycled pid is never taken for ours. */
  program: string;
  startTimeoutMs: number;
}

export function recordOf(service: Pick<Service, 'name' | 'dir'>): ProcessRecord {
  return {
    pidFile: join(service.dir, `${service.name}.pid`),
    addressFile: join(service.dir, `${service.name}.address`),
    logFile: join(service.dir, `${service.name}.log`),
    cwd: service.dir,
  };
}

/** Starts `command` for `service`, detached, and records it as ours. */
export function startDetached(service: Service, command: string, args: string[]): Promise<number> {
  return spawnDetached(recordOf(service), service.endpoint, command, args);
}

export interface Owned {
  pid: number;
  /** Where it was started to listen, which the current environment may no longer ask for. */
  at: string;
}

/** The copy of `service` this script started, if that process is still running. */
export function owned(service: Service): Owned | undefined {
  const { pidFile, addressFile } = recordOf(service);
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  if (!Number.isInteger(pid) || !runs(pid, service.program)) return undefined;
  const at = existsSync(addressFile) ? readFileSync(addressFile, 'utf8').trim() : '?';
  return { pid, at };
}

export async function waitUntilAnswering(service: Service, pid: number): Promise<void> {
  const deadline = Date.now() + service.startTimeoutMs;
  const log = relative(process.cwd(), recordOf(service).logFile);
  for (;;) {
    const failure = await attempt(() => service.probe());
    if (!failure) return;
    if (!runs(pid, service.program)) throw new Error(`pid ${pid} exited while starting; see ${log}`);
    if (Date.now() > deadline) {
      throw new Error(`pid ${pid} did not answer within ${service.startTimeoutMs / 1000} s (${failure.message}); see ${log}`);
    }
    await sleep(500);
  }
}

function ownership(service: Service, ours: Owned | undefined): string {
  if (ours === undefined) return '';
  if (ours.at === address(service.endpoint)) return ` (pid ${ours.pid}, started by this script)`;
  return ` (this script's ${service.name}, pid ${ours.pid}, runs at ${ours.at})`;
}

/** Returns the line to print for `service`, or throws why it cannot be had. */
export async function ensure(service: Service): Promise<string> {
  const at = address(service.endpoint);
  const failure = await attempt(() => service.probe());
  const ours = owned(service);
  if (!failure) return `found at ${at}${ownership(service, ours)}`;
  if (ours !== undefined && ours.at === at) {
    // Started by an earlier run that gave up waiting, or by a concurrent one: never start a second.
    await waitUntilAnswering(service, ours.pid);
    return `found at ${at}${ownership(service, ours)}`;
  }
  if (await tcpAnswers(service.endpoint)) {
    throw new Error(`${at} accepts TCP connections, but the ${service.name} check failed: ${failure.message}`);
  }
  if (!isLocal(service.endpoint.host)) {
    throw new Error(`nothing answers at ${at} (${failure.message}), and only a local address can be started here`);
  }
  if (ours !== undefined) {
    // Its pid file and data directory would be shared with a second copy.
    throw new Error(`the ${service.name} this script started (pid ${ours.pid}) runs at ${ours.at}, not ${at}; stop it first (npm run services -- stop)`);
  }
  mkdirSync(service.dir, { recursive: true });
  service.prepare();
  // Debian's package scripts start the service they install; a Kafka may have come up meanwhile.
  if (!(await attempt(() => service.probe()))) return `found at ${at}`;
  const pid = await service.start();
  await waitUntilAnswering(service, pid);
  return `started at ${at} (pid ${pid})`;
}

/** Stops `service` if this script started it (SIGTERM, then SIGKILL past the bound). */
export async function stop(service: Service): Promise<string> {
  const ours = owned(service);
  if (ours !== undefined) {
    process.kill(ours.pid, 'SIGTERM');
    if (!(await waitUntilGone(ours.pid, service.program, STOP_TIMEOUT_MS))) {
      process.kill(ours.pid, 'SIGKILL');
      await waitUntilGone(ours.pid, service.program, 5000);
    }
  }
  const { pidFile, addressFile } = recordOf(service);
  rmSync(pidFile, { force: true });
  rmSync(addressFile, { force: true });
  return ours === undefined ? 'not started by this script; left alone' : `stopped at ${ours.at} (pid ${ours.pid})`;
}

export async function status(service: Service): Promise<{ line: string; ok: boolean }> {
  const at = address(service.endpoint);
  const failure = await attempt(() => service.probe());
  const ours = ownership(service, owned(service));
  if (failure) return { line: `not answering at ${at}${ours}: ${failure.message}`, ok: false };
  return { line: `answers at ${at}${ours}`, ok: true };
}
