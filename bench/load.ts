/**
 * The load generator, always in its own process (and, with taskset, on its own core) so it never
 * competes with the service inside one event loop. Reads a JSON spec from argv[2], runs autocannon
 * with a per-request body (a fresh requestId, a token taken round-robin), prints one JSON line.
 */
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';

interface Spec {
  url: string;
  method: 'GET' | 'POST';
  path: string;
  durationSeconds: number;
  connections: number;
  /** JSON file holding an array of bearer tokens, used round-robin; absent → no Authorization. */
  tokensFile?: string;
  /** POST bodies are `{"requestId": "<run>-<n>"}`. */
  runId: string;
}

const spec = JSON.parse(process.argv[2] ?? '{}') as Spec;
const tokens: string[] = spec.tokensFile ? (JSON.parse(readFileSync(spec.tokensFile, 'utf8')) as string[]) : [];
let n = 0;

const result = await autocannon({
  url: spec.url,
  connections: spec.connections,
  duration: spec.durationSeconds,
  requests: [
    {
      method: spec.method,
      path: spec.path,
      setupRequest: (request) => {
        const i = n++;
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        const token = tokens.length > 0 ? tokens[i % tokens.length] : undefined;
        if (token) headers['authorization'] = `Bearer ${token}`;
        return spec.method === 'POST' ? { ...request, headers, body: JSON.stringify({ requestId: `${spec.runId}-${i}` }) } : { ...request, headers };
      },
    },
  ],
});

const statuses: Record<string, number> = {};
for (const [k, v] of Object.entries(result.statusCodeStats ?? {})) statuses[k] = (v as { count: number }).count;
process.stdout.write(
  `${JSON.stringify({
    requestsPerSec: result.requests.average,
    total: result.requests.total,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors,
    timeouts: result.timeouts,
    statuses,
  })}\n`,
);
