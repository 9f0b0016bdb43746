/**
 * Process plumbing shared by every service `npm run services` manages: finding (or apt-installing)
 * a program, running a tool to completion, starting a server detached so it outlives the script,
 * and telling whether a recorded pid is still that server.
 *
 * Stable exports (test/faults/ may start its own redis-server or broker through ./redis.ts and
 * ./kafka.ts, which build on these): ROOT, LOCAL, Endpoint, address, run, ensureCommand, runs,
 * waitUntilGone, tcpAnswers.
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** The repository root. */
export const ROOT = resolve(import.meta.dirname, '../../..');
/** Git-ignored home of everything these scripts fetch, start and record. */
export const LOCAL = join(ROOT, '.local');

/** Per probe; a local service that is up answers in milliseconds. */
export const PROBE_TIMEOUT_MS = 3000;

export interface Endpoint {
  host: string;
  port: number;
}

/** `host:port`, with an IPv6 host in brackets. */
export function address({ host, port }: Endpoint): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Only a service meant to be on this machine can be started by these scripts. */
export function isLocal(host: string): boolean {
  return host === '127.0.0.1' || host === 'localhost' || host === '::1';
}

/** Runs a command to completion and returns its stdout; throws with the tail of its output if it fails. */
export function run(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.error) throw new Error(`${command}: ${result.error.message}`);
  if (result.status !== 0) {
    const tail = `${result.stdout}${result.stderr}`.trim().split('\n').slice(-5).join('\n');
    throw new Error(`\`${command} ${args.join(' ')}\` failed (${result.status ?? result.signal}):\n${tail}`);
  }
  return result.stdout;
}

export function requireRoot(what: string): void {
  if (process.getuid?.() !== 0) throw new Error(`${what} needs root: run this as root, or start it yourself`);
}

/** Looks in the sbin directories too: a non-root PATH usually lacks them, and mariadbd lives there. */
export function findCommand(command: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin'].filter(Boolean);
  return dirs.map((dir) => join(dir, command)).find((file) => existsSync(file));
}

/** The path of `command`, installing Debian package `pkg` first when it is missing. */
export function ensureCommand(command: string, pkg: string): string {
  const found = findCommand(command);
  if (found) return found;
  requireRoot(`installing ${pkg}`);
  console.error(`installing ${pkg} with apt-get...`);
  const install = ['DEBIAN_FRONTEND=noninteractive', 'apt-get', 'install', '-y', pkg];
  try {
    run('env', install);
  } catch {
    // A fresh image has no package lists yet; fetching them every time would be slow.
    run('apt-get', ['update']);
    run('env', install);
  }
  const installed = findCommand(command);
  if (!installed) throw new Error(`installed ${pkg}, but still no ${command} on PATH`);
  return installed;
}

/**
 * Reads /proc rather than signalling with kill(pid, 0): a recycled pid, or a zombie left behind
 * (a container's init may not reap detached children), must not count as our service running.
 */
export function runs(pid: number, program: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(program);
  } catch {
    return false;
  }
}

/** Where a started server's pid, address and output go. */
export interface ProcessRecord {
  pidFile: string;
  addressFile: string;
  logFile: string;
  /** The working directory of the process. */
  cwd: string;
}

/**
 * Starts `command` in its own session, output appended to the record's log, so it outlives this
 * script; records its pid and the address it was started for. Returns the pid.
 */
export async function spawnDetached(record: ProcessRecord, at: Endpoint, command: string, args: string[]): Promise<number> {
  const log = openSync(record.logFile, 'a');
  try {
    const child = spawn(command, args, { cwd: record.cwd, detached: true, stdio: ['ignore', log, log] });
    await once(child, 'spawn');
    child.unref();
    const pid = child.pid!;
    writeFileSync(record.pidFile, `${pid}\n`);
    writeFileSync(record.addressFile, `${address(at)}\n`);
    return pid;
  } finally {
    closeSync(log);
  }
}

/** Runs `probe`; the failure as an Error, or undefined when it succeeded. */
export async function attempt(probe: () => Promise<void>): Promise<Error | undefined> {
  try {
    await probe();
    return undefined;
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}

/** True once `pid` no longer runs `program`; false if it still does after `timeoutMs`. */
export async function waitUntilGone(pid: number, program: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (runs(pid, program)) {
    if (Date.now() > deadline) return false;
    await sleep(200);
  }
  return true;
}

/** True if something accepts TCP connections at `endpoint`. */
export function tcpAnswers({ host, port }: Endpoint): Promise<boolean> {
  return new Promise((settle) => {
    const socket = connect({ host, port, timeout: PROBE_TIMEOUT_MS });
    const done = (open: boolean) => {
      socket.destroy();
      settle(open);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}
