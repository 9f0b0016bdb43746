/**
 * A real browser for the web tests: Debian's Chromium driven by playwright-core (Playwright's own
 * browser download cannot work here). Installs Chromium (and Noto CJK, so screenshots show the
 * page's Chinese text instead of boxes) with apt-get when missing; when that is impossible it says
 * why, and the caller skips — except in CI, where it must run.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM = process.env.SECKILL_CHROMIUM ?? '/usr/bin/chromium';
const CJK_FONT = '/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc';

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
  const missing = [...(existsSync(CHROMIUM) ? [] : ['chromium']), ...(existsSync(CJK_FONT) ? [] : ['fonts-noto-cjk'])];
  if (missing.length === 0) return undefined;
  if (process.getuid?.() !== 0) {
    // Without the fonts the tests still run (the screenshots show boxes for 秒杀); without Chromium they cannot.
    return existsSync(CHROMIUM) ? undefined : `${CHROMIUM} is missing and this user is not root, so \`apt-get install -y chromium\` cannot run`;
  }
  const packages = missing.join(' ');
  process.stderr.write(`web tests: installing ${packages} (apt-get install -y; this takes a while the first time)…\n`);
  let install = apt(['install', '-y', '--no-install-recommends', ...missing]);
  if (!install.ok) {
    const update = apt(['update']);
    if (!update.ok) return existsSync(CHROMIUM) ? undefined : `apt-get update failed: ${update.output}`;
    install = apt(['install', '-y', '--no-install-recommends', ...missing]);
  }
  if (!existsSync(CHROMIUM)) return `apt-get install -y ${packages} failed: ${install.output}`;
  if (!install.ok) process.stderr.write(`web tests: could not install ${packages} (${install.output}); screenshots may lack CJK glyphs\n`);
  return undefined;
}

/**
 * For a browser suite's `before`: undefined when Chromium is there; otherwise the reason to skip,
 * said once on the output. In CI it throws instead: there the browser tests must run.
 */
export function chromiumOrSkip(): string | undefined {
  const reason = ensureChromium();
  if (!reason) return undefined;
  if (process.env.CI) throw new Error(`web tests must run in CI, but Chromium is unavailable: ${reason}`);
  console.log(`# SKIPPING the browser tests: ${reason}`);
  return reason;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}
