/**
 * A small program written against the client generated from the OpenAPI document (openapi-typescript
 * types + openapi-fetch), as an integrator would write it: set up a sale, buy, be refused, read
 * the order. openapi-client.test.ts generates `generated/api.d.ts` from the served document,
 * type-checks this folder with tsc and then runs `sale()` against the server, so a document that
 * drifts from what clients rely on (a renamed path, a field made required, an error code moved
 * to another status, a schema no longer shared) fails the build at compile time or at run time.
 */
import createClient from 'openapi-fetch';
import type { components, paths } from './generated/api.d.ts';

type Order = components['schemas']['Order'];
type PurchaseConflict = paths['/api/v1/activities/{id}/purchase']['post']['responses'][409]['content']['application/json']['error']['code'];

/** Exhaustive over the 409 codes of a purchase: a code added to that status stops this compiling until handled. */
export function explainConflict(code: PurchaseConflict): string {
  switch (code) {
    case 'SOLD_OUT':
      return 'nothing left';
    case 'LIMIT_EXCEEDED':
      return 'you already hold your share';
    default: {
      const unhandled: never = code;
      return unhandled;
    }
  }
}

export interface SaleResult {
  order: Order;
  refusal: string;
  requestIdEchoed: string | null;
}

/** One unit on sale; the buyer buys it, is refused a second, and reads the order once it is persisted. */
export async function sale(baseUrl: string, adminToken: string, userToken: string): Promise<SaleResult> {
  const admin = createClient<paths>({ baseUrl, headers: { authorization: `Bearer ${adminToken}` } });
  const buyer = createClient<paths>({ baseUrl, headers: { authorization: `Bearer ${userToken}` } });

  const commodity = await admin.POST('/api/v1/admin/commodities', { body: { name: 'Tea', priceCents: 1200 } });
  if (!commodity.data) throw new Error(`createCommodity: ${commodity.response.status} ${commodity.error?.error.code}`);
  // limitPerUser, paymentTimeoutSeconds, antiBot, challengeDifficulty: defaults, so not required.
  const created = await admin.POST('/api/v1/admin/activities', {
    body: {
      name: 'Tea at noon',
      commodityId: commodity.data.commodity.id,
      priceCents: 990,
      stock: 1,
      startAt: new Date(Date.now() - 60_000).toISOString(),
      endAt: new Date(Date.now() + 3_600_000).toISOString(),
    },
  });
  if (!created.data) throw new Error(`createActivity: ${created.response.status} ${created.error?.error.code}`);
  const path = { id: created.data.activity.id };

  // quantity has a default: the client may leave it out.
  const bought = await buyer.POST('/api/v1/activities/{id}/purchase', {
    params: { path, header: { 'X-Request-Id': 'typed-client.1' } },
    body: { requestId: 'first' },
  });
  if (!bought.data) throw new Error(`purchase: ${bought.response.status} ${bought.error?.error.code}`);
  const orderId: string = bought.data.orderId;

  const again = await buyer.POST('/api/v1/activities/{id}/purchase', { params: { path }, body: { requestId: 'second' } });
  const code = again.error?.error.code;
  if (again.response.status !== 409 || (code !== 'SOLD_OUT' && code !== 'LIMIT_EXCEEDED')) throw new Error(`second purchase: ${again.response.status} ${code}`);
  const refusal = explainConflict(code);

  for (let tries = 0; tries < 200; tries++) {
    const read = await buyer.GET('/api/v1/orders/{orderId}', { params: { path: { orderId } } });
    if (read.data && read.data.order.status !== 'QUEUED') {
      return { order: read.data.order, refusal, requestIdEchoed: bought.response.headers.get('x-request-id') };
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`order ${orderId} was not persisted`);
}
