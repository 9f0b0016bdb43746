/**
 * Podman as this machine allows it: no Docker engine, no systemd, a hard open-files limit below
 * podman's default, and no registry but the package registries. Every podman call goes through
 * here so each one gets the flags that make it work (runc, lowered ulimits, the host network) and a
 * time limit.
 */
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Global flags: crun's default setup fails here; runc works. */
const GLOBAL = ['--runtime', 'runc'];

/**
 * For `run` and `build`: podman asks for nofile=1048576 by default, above this machine's hard
 * limit (runc then fails with "error setting rlimit type 7"); host networking because the
 * container talks to the host's Redis/MariaDB/Kafka on 127.0.0.1 and the build reaches the npm
 * registry the way the host does.
 */
export const CONTAINER_FLAGS = ['--network', 'host', '--ulimit', 'nofile=4096:4096', '--ulimit', 'nproc=4096:4096'];

export class CommandError extends Error {
  readonly stderr: string;
  constructor(message: string, stderr: string) {
    super(message);
    this.name = 'CommandError';
    this.stderr = stderr;
  }
}

/** Runs a command to completion; resolves with its stdout, throws with its stderr. */
export async function capture(file: string, args: string[], timeoutMs = 60_000): Promise<string> {
  try {
    const { stdout } = await run(file, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const failure = error as { stderr?: string; message: string; killed?: boolean };
    const why = failure.killed ? `timed out after ${timeoutMs} ms` : failure.message.split('\n')[0];
    throw new CommandError(`${file} ${args.join(' ')}: ${why}\n${failure.stderr ?? ''}`.trim(), failure.stderr ?? '');
  }
}

/** Runs a command with its output on ours (long builds show progress); rejects on failure or time-out. */
export function stream(
  file: string,
  args: string[],
  timeoutMs: number,
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { ...options, stdio: ['ignore', 'inherit', 'inherit'] });
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      reject(new Error(`${file} ${args[0] ?? ''}: timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`${file} ${args.slice(0, 2).join(' ')}: exit ${code ?? signal}`));
    });
  });
}

export function podman(args: string[], timeoutMs = 60_000): Promise<string> {
  return capture('podman', [...GLOBAL, ...args], timeoutMs);
}

export function podmanStreamed(args: string[], timeoutMs: number, cwd?: string): Promise<void> {
  return stream('podman', [...GLOBAL, ...args], timeoutMs, cwd === undefined ? {} : { cwd });
}

export async function imageExists(name: string): Promise<boolean> {
  return podman(['image', 'exists', name]).then(
    () => true,
    () => false,
  );
}

async function onPath(command: string): Promise<boolean> {
  return capture('sh', ['-c', `command -v ${command}`]).then(
    () => true,
    () => false,
  );
}

/**
 * Installs podman, runc and debootstrap from Debian's packages when missing (the opt-in test's only
 * system dependencies; a fresh machine has none of them).
 */
export async function ensureTools(log: (line: string) => void): Promise<void> {
  const wanted = { podman: 'podman', runc: 'runc', debootstrap: 'debootstrap' };
  const missing: string[] = [];
  for (const [command, pkg] of Object.entries(wanted)) if (!(await onPath(command))) missing.push(pkg);
  if (missing.length === 0) return;
  log(`installing ${missing.join(', ')} from Debian's packages`);
  const install = ['install', '-y', '--no-install-recommends', ...missing];
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const apt = (args: string[]) =>
    stream('apt-get', args, 15 * 60_000, { env }).catch((error: unknown) => {
      throw new Error(`apt-get ${args[0]}: ${(error as Error).message} (root is needed to install ${missing.join(', ')})`);
    });
  // A machine whose package lists were never fetched knows no package: update once, then retry.
  await apt(install).catch(async () => {
    await apt(['update']);
    await apt(install);
  });
}
