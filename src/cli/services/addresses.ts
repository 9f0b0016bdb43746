/**
 * The addresses of the default topology, read from the app's own variables. Parsed here,
 * minimally, instead of through src/config.ts: `npm run services` must run before the app is
 * configured or even compiles, and only needs host and port.
 */
import type { Endpoint } from './process.ts';

export function env(name: string, fallback: string): string {
  const value = process.env[name]?.trim();
  return value ? value : fallback;
}

/** For a Redis cluster or a list of Kafka brokers, the first node answering is enough here. */
export function firstOf(list: string): string {
  return list.split(',')[0]!.trim();
}

export function parseUrl(variable: string, text: string): URL {
  try {
    return new URL(text);
  } catch {
    throw new Error(`${variable} is not a valid URL: "${text}"`);
  }
}

export function endpointOf(url: URL, defaultPort: number): Endpoint {
  // URL keeps IPv6 hosts in brackets; sockets want them bare.
  return { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: url.port ? Number(url.port) : defaultPort };
}
