/**
 * /metrics when `npm start` runs several API processes (src/cli/api-processes.ts): the process that
 * gets the scrape asks the primary, which sums every process's registry (prom-client's
 * AggregatorRegistry), so one scrape describes the whole machine.
 */
import cluster from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';

export const SCRAPE_REQUEST = 'seckill:metrics?';
export const SCRAPE_REPLY = 'seckill:metrics!';

export interface ScrapeMessage {
  type: string;
  id: number;
  text?: string;
  error?: string;
}

export const isScrape = (message: unknown, type: string): message is ScrapeMessage =>
  typeof message === 'object' && message !== null && (message as ScrapeMessage).type === type;

/**
 * In a forked API process: answer the primary's requests for this process's metrics (prom-client
 * listens once an AggregatorRegistry exists in the process). Gauges that describe shared state
 * (stock, lag, backlog) must declare `aggregator: 'max'` or they would be summed over processes.
 */
export function shareMetricsWithPrimary(registry: Registry): void {
  if (!cluster.isWorker) return;
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([registry]);
}

let nextScrape = 0;

/**
 * The metrics text for /metrics: this process's registry alone, or, in a forked API process, the
 * sum over every process of the machine (asked of the primary; ~1 s bound).
 */
export function scrapeMetrics(registry: Registry): Promise<string> {
  if (!cluster.isWorker || !process.send) return registry.metrics();
  const id = ++nextScrape;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      process.off('message', onReply);
      reject(new Error('the primary did not answer the metrics scrape'));
    }, 2000);
    function onReply(message: unknown): void {
      if (!isScrape(message, SCRAPE_REPLY) || message.id !== id) return;
      clearTimeout(timer);
      process.off('message', onReply);
      if (message.text !== undefined) resolve(message.text);
      else reject(new Error(message.error ?? 'metrics scrape failed'));
    }
    process.on('message', onReply);
    process.send?.({ type: SCRAPE_REQUEST, id });
  });
}
