/**
 * Bundles the product page and the operator dashboard (web/src/*.ts) with esbuild into web/dist/,
 * next to the HTML shells, CSS and icon from web/static/. Runs from `npm ci` (the `prepare` script)
 * and, when web/dist is missing or older than its sources, from the web route at server start — so
 * a fresh clone serves the pages whichever of the two comes first.
 *
 * CDN-ready output: every asset a page loads lives in `dist/assets/` under a content-hashed name
 * (`product-7KQ2M4XA.js`), so it can be cached for a year and never revalidated: a new build is a
 * new name. Only the HTML pages keep fixed names (they are the entry points, revalidated by ETag);
 * they are rewritten to reference the hashed names, listed in `dist/manifest.json`. Each text file
 * also gets `.br` and `.gz` siblings, compressed once here at maximum level instead of per request.
 *
 * Builds into a temporary folder and renames it into place, so a server reading web/dist never
 * sees half a build, and two processes building at once leave one complete result.
 */
import { createHash } from 'node:crypto';
import { cp, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { brotliCompress, constants as zlib, gzip } from 'node:zlib';

export const WEB_ROOT = dirname(fileURLToPath(import.meta.url));
export const DIST = join(WEB_ROOT, 'dist');
/** Where the hashed assets go; everything in it may be cached forever. */
export const ASSETS_DIR = 'assets';
export const MANIFEST = 'manifest.json';
const STAMP = '.build-stamp';

/** The HTML pages (fixed names; they reference assets by their logical names, e.g. `/assets/style.css`). */
export const PAGES = ['product.html', 'admin.html', 'not-found.html'] as const;

/** The browser entry points (each becomes `assets/<name>-<hash>.js`). */
const PAGE_ENTRIES = {
  product: join(WEB_ROOT, 'src', 'product.ts'),
  admin: join(WEB_ROOT, 'src', 'admin.ts'),
};
const WORKER_ENTRY = join(WEB_ROOT, 'src', 'challenge-worker.ts');
/** Copied from web/static (or node_modules) and hashed by this script. */
const STATIC_ASSETS: Record<string, string> = {
  'style.css': join(WEB_ROOT, 'static', 'style.css'),
  'favicon.svg': join(WEB_ROOT, 'static', 'favicon.svg'),
  'uPlot.min.css': join(WEB_ROOT, '..', 'node_modules', 'uplot', 'dist', 'uPlot.min.css'),
};
const COMPRESSIBLE = new Set(['.html', '.js', '.css', '.svg', '.map', '.json', '.txt']);

/** Logical name (`product.js`) → hashed file under dist/assets (`product-7KQ2M4XA.js`). */
export type Manifest = Record<string, string>;

async function newestMtime(dir: string): Promise<number> {
  let newest = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const time = entry.isDirectory() ? await newestMtime(path) : (await stat(path)).mtimeMs;
    newest = Math.max(newest, time);
  }
  return newest;
}

/** True when web/dist is missing, incomplete, or older than any of its sources (or this script). */
export async function needsBuild(): Promise<boolean> {
  let built: number;
  try {
    built = (await stat(join(DIST, STAMP))).mtimeMs;
    await stat(join(DIST, MANIFEST)); // a dist from before hashed assets has no manifest
  } catch {
    return true;
  }
  // src/client holds code shared with the server side (the challenge rule), bundled in too.
  const folders = [join(WEB_ROOT, 'src'), join(WEB_ROOT, 'static'), join(WEB_ROOT, '..', 'src', 'client')];
  const times = await Promise.all([
    ...folders.map((f) => newestMtime(f).catch(() => 0)),
    stat(fileURLToPath(import.meta.url)).then((s) => s.mtimeMs),
  ]);
  return Math.max(...times) > built;
}

/** 8 characters of the content's SHA-256 (base32-ish, like esbuild's `[hash]`). */
function contentHash(content: Buffer): string {
  return createHash('sha256').update(content).digest('base64url').replace(/[-_]/g, '').slice(0, 8).toUpperCase();
}

function hashedName(logical: string, hash: string): string {
  const ext = logical.endsWith('.min.css') ? '.min.css' : extname(logical);
  return `${logical.slice(0, -ext.length)}-${hash}${ext}`;
}

/** Bundles the given entries into `outdir` with hashed names; returns logical name → hashed name. */
async function bundle(entries: Record<string, string>, outdir: string, define: Record<string, string>, minify: boolean): Promise<Manifest> {
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: entries,
    outdir,
    entryNames: '[name]-[hash]',
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
    minify,
    sourcemap: 'linked',
    legalComments: 'linked',
    logLevel: 'warning',
    metafile: true,
    absWorkingDir: WEB_ROOT,
    define,
  });
  const manifest: Manifest = {};
  for (const [output, meta] of Object.entries(result.metafile.outputs)) {
    if (!meta.entryPoint || !output.endsWith('.js')) continue;
    const name = Object.entries(entries).find(([, path]) => relative(WEB_ROOT, path) === meta.entryPoint)?.[0];
    if (name === undefined) throw new Error(`esbuild produced ${output} from an unknown entry ${meta.entryPoint}`);
    manifest[`${name}.js`] = basename(output);
  }
  for (const name of Object.keys(entries)) if (!manifest[`${name}.js`]) throw new Error(`esbuild did not produce ${name}.js`);
  return manifest;
}

/** Rewrites `/assets/<logical>` references to the hashed names; an unknown reference fails the build. */
function linkAssets(html: string, page: string, manifest: Manifest): string {
  return html.replace(/\/assets\/([A-Za-z0-9._-]+)/g, (_match, logical: string) => {
    const hashed = manifest[logical];
    if (hashed === undefined) throw new Error(`${page} references /assets/${logical}, which the build does not produce`);
    return `/${ASSETS_DIR}/${hashed}`;
  });
}

async function compressTree(dir: string): Promise<void> {
  const brotli = promisify(brotliCompress);
  const gz = promisify(gzip);
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !COMPRESSIBLE.has(extname(entry.name))) continue;
    const path = join(entry.parentPath, entry.name);
    const raw = await readFile(path);
    const [br, gzipped] = await Promise.all([
      brotli(raw, { params: { [zlib.BROTLI_PARAM_QUALITY]: zlib.BROTLI_MAX_QUALITY, [zlib.BROTLI_PARAM_SIZE_HINT]: raw.length } }),
      gz(raw, { level: zlib.Z_BEST_COMPRESSION }),
    ]);
    // A variant no smaller than the original is not worth a Content-Encoding (the server falls back).
    if (br.length < raw.length) await writeFile(`${path}.br`, br);
    if (gzipped.length < raw.length) await writeFile(`${path}.gz`, gzipped);
  }
}

/** Builds web/dist; resolves with the output folder. */
export async function buildWeb(options: { minify?: boolean } = {}): Promise<string> {
  const minify = options.minify ?? true;
  const tmp = `${DIST}.tmp-${process.pid}-${Date.now()}`;
  const assets = join(tmp, ASSETS_DIR);
  try {
    await mkdir(assets, { recursive: true });
    const manifest: Manifest = {};
    for (const [logical, source] of Object.entries(STATIC_ASSETS)) {
      const content = await readFile(source);
      manifest[logical] = hashedName(logical, contentHash(content));
      await writeFile(join(assets, manifest[logical]), content);
    }
    // The worker first: the product page is built with the worker's hashed URL baked in.
    Object.assign(manifest, await bundle({ 'challenge-worker': WORKER_ENTRY }, assets, {}, minify));
    const workerUrl = `/${ASSETS_DIR}/${manifest['challenge-worker.js']}`;
    Object.assign(manifest, await bundle(PAGE_ENTRIES, assets, { __CHALLENGE_WORKER_URL__: JSON.stringify(workerUrl) }, minify));

    for (const page of PAGES) {
      const html = await readFile(join(WEB_ROOT, 'static', page), 'utf8');
      await writeFile(join(tmp, page), linkAssets(html, page, manifest));
    }
    // /favicon.ico (browsers ask for it unprompted) is served from this unhashed copy.
    await cp(STATIC_ASSETS['favicon.svg'] as string, join(tmp, 'favicon.svg'));
    await writeFile(join(tmp, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
    await compressTree(tmp);
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
