/**
 * A real browser for the web tests: Debian's Chromium driven by playwright-core (Playwright's own
 * browser download cannot work here). Installs Chromium with apt-get when it is missing; when that
 * is impossible it says why, and the caller skips — except in CI, where it must run.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM = process.env.SECKILL_CHROMIUM ?? '/usr/bin/chromium';

function apt(args: string[]): { ok: boolean; output: string } {
  const result = spawnSync('apt-get', args, {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    encoding: 'utf8',
    timeout: 15 * 60_000,
  });
  return { ok: result.status === 0, output: `${result.error?.message ?? ''}${result.stderr ?? ''}`.trim().split('\n').slice(-3).join(' | ') };
}

/** Undefined when Chromium is there (installing it if needed); otherwise why it is not. */
export function ensureChromium(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  if (process.getuid?.() !== 0) return `${CHROMIUM} is missing and this user is not root, so \`apt-get install -y chromium\` cannot run`;
  process.stderr.write('web tests: installing Debian chromium (apt-get install -y chromium; this takes a while the first time)…\n');
  let install = apt(['install', '-y', '--no-install-recommends', 'chromium']);
  if (!install.ok) {
    const update = apt(['update']);
    if (!update.ok) return `apt-get update failed: ${update.output}`;
    install = apt(['install', '-y', '--no-install-recommends', 'chromium']);
  }
  if (!install.ok || !existsSync(CHROMIUM)) return `apt-get install -y chromium failed: ${install.output}`;
  return undefined;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}
