/**
 * What the demo ran on, for the report: throughput figures mean little without the machine and
 * the exact code that produced them.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, release, totalmem, type as osType } from 'node:os';
import { fileURLToPath } from 'node:url';

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryBytes: number;
  os: string;
  node: string;
  /** Short commit hash of the code, or null outside a git checkout. */
  commit: string | null;
  /** True when tracked files differ from that commit. */
  commitDirty: boolean;
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function git(args: string[]): string | null {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).trim();
  } catch {
    return null;
  }
}

/** "Debian GNU/Linux 13 (trixie), Linux 6.1.0" where /etc/os-release says so, else the kernel alone. */
function osName(): string {
  const kernel = `${osType()} ${release()}`;
  try {
    const pretty = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1];
    return pretty ? `${pretty}, ${kernel}` : kernel;
  } catch {
    return kernel;
  }
}

export function describeMachine(): MachineInfo {
  const commit = git(['rev-parse', '--short=10', 'HEAD']);
  return {
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown CPU',
    cores: availableParallelism(),
    memoryBytes: totalmem(),
    os: osName(),
    node: process.version,
    commit,
    commitDirty: commit !== null && (git(['status', '--porcelain', '--untracked-files=no']) ?? '') !== '',
  };
}
