/**
 * Bundles the product page and the operator dashboard (web/src/*.ts) with esbuild into web/dist/,
 * next to the HTML shells and CSS from web/static/. Runs from `npm ci` (the `prepare` script) and,
 * when web/dist is missing or older than its sources, from the web route at server start — so a
 * fresh clone serves the pages whichever of the two comes first.
 *
 * Builds into a temporary folder and renames it into place, so a server reading web/dist never
 * sees half a build, and two processes building at once leave one complete result.
 */
import { cp, mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const WEB_ROOT = dirname(fileURLToPath(import.meta.url));
export const DIST = join(WEB_ROOT, 'dist');
const STAMP = '.build-stamp';

/** The browser entry points (each becomes `dist/<name>.js`). */
const ENTRIES = {
  product: join(WEB_ROOT, 'src', 'product.ts'),
  admin: join(WEB_ROOT, 'src', 'admin.ts'),
  'challenge-worker': join(WEB_ROOT, 'src', 'challenge-worker.ts'),
};

async function newestMtime(dir: string): Promise<number> {
  let newest = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const time = entry.isDirectory() ? await newestMtime(path) : (await stat(path)).mtimeMs;
    newest = Math.max(newest, time);
  }
  return newest;
}

/** True when web/dist is missing, incomplete, or older than any of its sources. */
export async function needsBuild(): Promise<boolean> {
  let built: number;
  try {
    built = (await stat(join(DIST, STAMP))).mtimeMs;
  } catch {
    return true;
  }
  // src/client holds code shared with the server side (the challenge rule), bundled in too.
  const folders = [join(WEB_ROOT, 'src'), join(WEB_ROOT, 'static'), join(WEB_ROOT, '..', 'src', 'client')];
  const sources = Math.max(...(await Promise.all(folders.map((f) => newestMtime(f).catch(() => 0)))));
  return sources > built;
}

/** Builds web/dist; resolves with the output folder. */
export async function buildWeb(options: { minify?: boolean } = {}): Promise<string> {
  // Imported here, not at the top, so the server can start (and say why the pages are missing)
  // on an install without dev dependencies.
  const esbuild = await import('esbuild');
  const tmp = `${DIST}.tmp-${process.pid}-${Date.now()}`;
  try {
    await esbuild.build({
      entryPoints: ENTRIES,
      outdir: tmp,
      bundle: true,
      format: 'iife',
      platform: 'browser',
      target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
      minify: options.minify ?? true,
      sourcemap: 'linked',
      legalComments: 'linked',
      logLevel: 'warning',
    });
    await cp(join(WEB_ROOT, 'static'), tmp, { recursive: true });
    await cp(join(WEB_ROOT, '..', 'node_modules', 'uplot', 'dist', 'uPlot.min.css'), join(tmp, 'uPlot.min.css'));
    await writeFile(join(tmp, STAMP), new Date().toISOString());
    await mkdir(dirname(DIST), { recursive: true });
    await rm(DIST, { recursive: true, force: true });
    try {
      await rename(tmp, DIST);
    } catch (error) {
      // Another process renamed its build in between: theirs is as good as ours.
      if ((error as NodeJS.ErrnoException).code !== 'ENOTEMPTY' && (error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return DIST;
}

if (import.meta.main) {
  try {
    const out = await buildWeb();
    console.log(`web: built ${out}`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') {
      // `npm ci --omit=dev`: no esbuild; the server will say the pages are unavailable.
      console.warn('web: esbuild is not installed (dev dependency); skipping the web build');
    } else {
      console.error(`web: build failed: ${error instanceof Error ? error.message : String(error)}`);
      process.exitCode = 1;
    }
  }
}
