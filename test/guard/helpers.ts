/** Shared bits of the guard tests: activities with options the generic helper lacks. */
import type { Json, TestApp } from '../support/http.ts';

export async function createActivity(t: TestApp, options: Record<string, unknown> = {}): Promise<Json> {
  const c = await t.admin('POST', '/api/v1/admin/commodities', { name: 'Bottle', priceCents: 990 });
  if (c.status !== 201) throw new Error(`create commodity: ${c.status} ${JSON.stringify(c.body)}`);
  const a = await t.admin('POST', '/api/v1/admin/activities', {
    name: 'Sale',
    commodityId: c.body.commodity.id,
    priceCents: 990,
    stock: 100,
    startAt: new Date(Date.now() - 60_000).toISOString(),
    endAt: new Date(Date.now() + 3_600_000).toISOString(),
    limitPerUser: 1,
    paymentTimeoutSeconds: 3600,
    ...options,
  });
  if (a.status !== 201) throw new Error(`create activity: ${a.status} ${JSON.stringify(a.body)}`);
  return a.body.activity;
}

export const count = <T>(items: T[], predicate: (item: T) => boolean) => items.filter(predicate).length;

/** Retry-After as the contract (docs/api.md) wants it on 429/503: an integer number of seconds, at least 1. */
export function validRetryAfter(value: string | null): boolean {
  return value !== null && /^\d+$/.test(value) && Number(value) >= 1;
}
