/**
 * Helpers for the ops tests: read Prometheus text exposition with the dashboard's own parser (the
 * format itself is checked by `promtool check metrics`), and run promtool (Debian's prometheus
 * package, installed by `make promtool` / deploy/ensure-promtool.sh).
 */
import { spawnSync } from 'node:child_process';
import { parseProm, type Sample } from '../../web/src/prom.ts';

export { parseProm as parseSamples, type Sample };

/** Sum of the samples named `name` whose labels include `labels`. */
export function total(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

export function find(samples: Sample[], name: string, labels: Record<string, string> = {}): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

/** Runs promtool; fails loudly (with how to get it) when it is missing. */
export function promtool(args: string[], input?: string): { status: number; output: string } {
  const result = spawnSync('promtool', args, { input, encoding: 'utf8', timeout: 60_000 });
  if (result.error) throw new Error(`promtool could not run (${result.error.message}); install it with \`make promtool\``);
  return { status: result.status ?? -1, output: `${result.stdout}${result.stderr}` };
}
