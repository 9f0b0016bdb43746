/**
 * A CPU profile of the service over one benchmark phase, taken through the inspector (the service
 * is started with --inspect=127.0.0.1:0 when --profile is given), and its summary: the functions
 * and the files or packages with the most self time. The raw profile is written next to the
 * summary (artifacts/, git-ignored) for Chrome DevTools or speedscope.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
}

/** The inspector's WebSocket URL, from the line Node prints at start. */
export function inspectorUrl(logFile: string): string | undefined {
  return /Debugger listening on (ws:\/\/\S+)/.exec(readFileSync(logFile, 'utf8'))?.[1];
}

export interface Profiler {
  stop(): Promise<CpuProfile>;
}

/** Starts sampling the process behind `wsUrl`; stop() returns the profile. */
export async function startProfiler(wsUrl: string): Promise<Profiler> {
  const socket = new WebSocket(wsUrl);
  await new Promise((resolve, reject) => {
    socket.addEventListener('open', resolve, { once: true });
    socket.addEventListener('error', reject, { once: true });
  });
  let id = 0;
  const waiting = new Map<number, (result: unknown) => void>();
  socket.addEventListener('message', (event) => {
    const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown };
    if (message.id !== undefined) waiting.get(message.id)?.(message.result);
  });
  const send = <T>(method: string, params: Record<string, unknown> = {}) =>
    new Promise<T>((resolve) => {
      const n = ++id;
      waiting.set(n, resolve as (result: unknown) => void);
      socket.send(JSON.stringify({ id: n, method, params }));
    });
  await send('Profiler.enable');
  await send('Profiler.setSamplingInterval', { interval: 200 });
  await send('Profiler.start');
  return {
    async stop() {
      const { profile } = await send<{ profile: CpuProfile }>('Profiler.stop');
      socket.close();
      return profile;
    },
  };
}

/** Where self time goes: a file under src/, a package under node_modules, or Node's own. */
function placeOf(url: string): string {
  if (!url) return '(native / V8)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  const src = /\/(src\/.+|bench\/.+)$/.exec(url);
  if (src) return src[1]!;
  if (url.startsWith('node:')) return url;
  return url.split('/').slice(-2).join('/');
}

/** Top functions and places by self time, as lines; writes the raw profile to `dir/name.cpuprofile`. */
export function summarise(profile: CpuProfile, dir: string, name: string, top = 12): string[] {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}.cpuprofile`), JSON.stringify(profile));
  const total = profile.nodes.reduce((n, node) => n + (node.hitCount ?? 0), 0) || 1;
  const byFunction = new Map<string, number>();
  const byPlace = new Map<string, number>();
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    if (hits === 0) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const fn = `${functionName || '(anonymous)'} ${placeOf(url)}${url ? `:${lineNumber + 1}` : ''}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + hits);
    const place = functionName === '(idle)' ? '(idle)' : functionName === '(garbage collector)' ? '(garbage collector)' : placeOf(url);
    byPlace.set(place, (byPlace.get(place) ?? 0) + hits);
  }
  const pct = (n: number) => `${((100 * n) / total).toFixed(1).padStart(5)} %`;
  const rows = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).slice(0, top);
  return [
    `profile ${name}: ${total} samples (${join(dir, `${name}.cpuprofile`)})`,
    '  self time by place:',
    ...rows(byPlace).map(([place, n]) => `    ${pct(n)}  ${place}`),
    '  self time by function:',
    ...rows(byFunction).map(([fn, n]) => `    ${pct(n)}  ${fn}`),
  ];
}
