/**
 * A base image made on this machine, since no image registry is reachable: a minimal Debian
 * bookworm from Debian's packages (debootstrap, cached as a tar under the git-ignored .local/),
 * plus Node 24 and npm in /usr/local — the layout of node:24-bookworm-slim, the Dockerfile's
 * default base, so the same Dockerfile builds on either.
 *
 * Node is the project's own (the npm `node` package in node_modules), npm is the one this machine
 * runs, and the machine's CA bundle and npm registry setting go in too: the build's `npm ci` must
 * reach the registry exactly as the host does (this workplace's TLS goes through its own CA).
 */
import { existsSync, realpathSync } from 'node:fs';
import { copyFile, cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { capture, imageExists, podman, podmanStreamed, CONTAINER_FLAGS, stream } from './podman.ts';

export const DEBIAN_IMAGE = 'localhost/seckill-debian:bookworm';
export const BASE_IMAGE = 'localhost/seckill-base:bookworm';
const SUITE = 'bookworm';
const HOST_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

/**
 * The Debian mirror the host's apt already uses (deb822 `.sources` or one-line `sources.list`), so
 * debootstrap needs no address of its own; SECKILL_DEBIAN_MIRROR overrides it.
 */
export async function debianMirror(): Promise<string> {
  const override = process.env.SECKILL_DEBIAN_MIRROR?.trim();
  if (override) return override;
  const files: string[] = [];
  if (existsSync('/etc/apt/sources.list')) files.push('/etc/apt/sources.list');
  const dir = '/etc/apt/sources.list.d';
  if (existsSync(dir)) for (const name of (await readdir(dir)).sort()) if (/\.(sources|list)$/.test(name)) files.push(join(dir, name));
  for (const file of files) {
    const text = await readFile(file, 'utf8');
    if (file.endsWith('.sources')) {
      for (const stanza of text.split(/\n\s*\n/)) {
        const field = (name: string) => new RegExp(`^${name}:\\s*(.+)$`, 'mi').exec(stanza)?.[1]?.trim() ?? '';
        if (/^\s*Enabled:\s*no/im.test(stanza) || !field('Types').split(/\s+/).includes('deb')) continue;
        const suites = field('Suites').split(/\s+/);
        // The main archive (it carries `<codename>`), not -security or -updates.
        if (suites.some((s) => /^[a-z]+$/.test(s)) && field('Components').split(/\s+/).includes('main')) {
          const uri = field('URIs').split(/\s+/)[0];
          if (uri) return uri;
        }
      }
    } else {
      for (const line of text.split('\n')) {
        const match = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+([a-z]+)\s+.*\bmain\b/.exec(line.trim());
        if (match?.[1]) return match[1];
      }
    }
  }
  throw new Error('no Debian mirror found in /etc/apt/sources.list*; set SECKILL_DEBIAN_MIRROR');
}

/** The cached minimal rootfs tar, made by debootstrap on first use. */
async function debianRootfsTar(cacheDir: string, log: (line: string) => void): Promise<string> {
  const tar = join(cacheDir, `debian-${SUITE}-minbase.tar`);
  if (existsSync(tar)) return tar;
  await mkdir(cacheDir, { recursive: true });
  const rootfs = await mkdtemp(join(cacheDir, 'rootfs-'));
  try {
    const mirror = await debianMirror();
    log(`debootstrap: a minimal Debian ${SUITE} from ${mirror} (once; cached as ${tar})`);
    await stream('debootstrap', ['--variant=minbase', SUITE, rootfs, mirror], 20 * 60_000);
    // What an image does not need: the downloaded .debs and package lists (slim images drop them too).
    await rm(join(rootfs, 'var/cache/apt/archives'), { recursive: true, force: true });
    await rm(join(rootfs, 'var/lib/apt/lists'), { recursive: true, force: true });
    await mkdir(join(rootfs, 'var/cache/apt/archives/partial'), { recursive: true });
    await mkdir(join(rootfs, 'var/lib/apt/lists/partial'), { recursive: true });
    // Written under another name and renamed: an interrupted run never leaves a truncated cache.
    await capture('tar', ['--numeric-owner', '-C', rootfs, '-cf', `${tar}.partial`, '.'], 10 * 60_000);
    await capture('mv', [`${tar}.partial`, tar]);
    return tar;
  } finally {
    await rm(rootfs, { recursive: true, force: true });
    await rm(`${tar}.partial`, { force: true });
  }
}

/** Where the npm this machine runs lives (…/node_modules/npm). */
async function hostNpmDir(): Promise<string> {
  const bin = (await capture('sh', ['-c', 'command -v npm'])).trim();
  // bin/npm is a link to …/npm/bin/npm-cli.js
  return dirname(dirname(realpathSync(bin)));
}

/** Makes DEBIAN_IMAGE (when missing) and BASE_IMAGE (always: node or npm may have changed). */
export async function ensureBaseImage(root: string, log: (line: string) => void): Promise<string> {
  const cacheDir = join(root, '.local', 'container');
  if (!(await imageExists(DEBIAN_IMAGE))) {
    const tar = await debianRootfsTar(cacheDir, log);
    log(`podman import ${tar} as ${DEBIAN_IMAGE}`);
    await podman(['import', tar, DEBIAN_IMAGE], 10 * 60_000);
  }

  const context = await mkdtemp(join(cacheDir, 'base-context-'));
  try {
    await copyFile(realpathSync(join(root, 'node_modules', '.bin', 'node')), join(context, 'node'));
    await cp(await hostNpmDir(), join(context, 'npm'), { recursive: true, verbatimSymlinks: true });
    const registry = (await capture('npm', ['config', 'get', 'registry'])).trim();
    await writeFile(join(context, 'npmrc'), `registry=${registry}\nfund=false\naudit=false\nupdate-notifier=false\n`);
    const caBundle = process.env.NODE_EXTRA_CA_CERTS ?? HOST_CA_BUNDLE;
    const hasCa = existsSync(caBundle);
    if (hasCa) await copyFile(caBundle, join(context, 'ca-certificates.crt'));
    const containerfile = [
      `FROM ${DEBIAN_IMAGE}`,
      'COPY node /usr/local/bin/node',
      'COPY npm /usr/local/lib/node_modules/npm',
      // npm's global config for a node in /usr/local/bin
      'COPY npmrc /usr/local/etc/npmrc',
      ...(hasCa ? [`COPY ca-certificates.crt ${HOST_CA_BUNDLE}`, `ENV NODE_EXTRA_CA_CERTS=${HOST_CA_BUNDLE}`] : []),
      'RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\',
      ' && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\',
      ' && node --version && npm --version',
      '',
    ].join('\n');
    await writeFile(join(context, 'Containerfile'), containerfile);
    log(`podman build ${BASE_IMAGE} (Debian ${SUITE} + this project's Node + this machine's npm)`);
    const previous = (await imageExists(BASE_IMAGE)) ? (await podman(['image', 'inspect', BASE_IMAGE, '--format', '{{.Id}}'])).trim() : '';
    await podmanStreamed(['build', '--quiet', ...CONTAINER_FLAGS, '--layers=false', '-t', BASE_IMAGE, context], 10 * 60_000);
    // The previous build lost its tag; left alone it would pile up as an untagged image per run.
    const current = (await podman(['image', 'inspect', BASE_IMAGE, '--format', '{{.Id}}'])).trim();
    if (previous !== '' && previous !== current) await podman(['rmi', previous]).catch(() => undefined);
    return BASE_IMAGE;
  } finally {
    await rm(context, { recursive: true, force: true });
  }
}
