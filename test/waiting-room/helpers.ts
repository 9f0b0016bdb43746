/** Shared steps of the waiting-room tests: a sale with a waiting room, joining, waiting to be admitted. */
import assert from 'node:assert/strict';
import { call, type Json, type Reply, type TestApp, waitFor } from '../support/http.ts';

export interface RoomSaleOptions {
  stock?: number;
  shards?: number;
  limitPerUser?: number;
  startAt?: Date;
  paymentTimeoutSeconds?: number;
  antiBot?: 'none' | 'challenge';
  waitingRoom: Record<string, unknown>;
}

export async function createRoomSale(t: TestApp, options: RoomSaleOptions): Promise<Json> {
  const c = await t.admin('POST', '/api/v1/admin/commodities', { name: 'Bottle', priceCents: 990 });
  assert.equal(c.status, 201, JSON.stringify(c.body));
  const a = await t.admin('POST', '/api/v1/admin/activities', {
    name: 'Queued sale',
    commodityId: c.body.commodity.id,
    priceCents: 990,
    stock: options.stock ?? 10,
    startAt: (options.startAt ?? new Date(Date.now() - 1000)).toISOString(),
    endAt: new Date(Date.now() + 3_600_000).toISOString(),
    limitPerUser: options.limitPerUser ?? 1,
    paymentTimeoutSeconds: options.paymentTimeoutSeconds ?? 3600,
    antiBot: options.antiBot ?? 'none',
    challengeDifficulty: 4,
    ...(options.shards === undefined ? {} : { shards: options.shards }),
    waitingRoom: options.waitingRoom,
  });
  assert.equal(a.status, 201, JSON.stringify(a.body));
  return a.body.activity;
}

export const join = (t: TestApp, userId: string, activityId: string) => t.user(userId, 'POST', `/api/v1/activities/${activityId}/queue`);
export const ticketOf = (t: TestApp, userId: string, activityId: string) => t.user(userId, 'GET', `/api/v1/activities/${activityId}/queue`);

export async function setPaused(t: TestApp, activityId: string, paused: boolean): Promise<void> {
  const r = await t.admin('POST', `/api/v1/admin/activities/${activityId}/waiting-room/${paused ? 'pause' : 'resume'}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.activity.waitingRoom.paused, paused);
}

/** Polls the user's ticket until it is ADMITTED; returns it. */
export function admitted(t: TestApp, userId: string, activityId: string, timeoutMs = 15_000): Promise<Json> {
  return waitFor(
    async () => {
      const r = await ticketOf(t, userId, activityId);
      return r.status === 200 && r.body.ticket.status === 'ADMITTED' ? r.body.ticket : undefined;
    },
    timeoutMs,
    `${userId} admitted`,
  );
}

export function buyWithPass(t: TestApp, userId: string, activityId: string, requestId: string, pass?: string): Promise<Reply<Json>> {
  return call(t.url, 'POST', `/api/v1/activities/${activityId}/purchase`, {
    body: { requestId },
    auth: `Bearer ${t.token(userId)}`,
    headers: pass === undefined ? {} : { 'x-seckill-pass': pass },
  });
}

export async function roomStats(t: TestApp, activityId: string): Promise<Json> {
  const r = await t.admin('GET', `/api/v1/admin/activities/${activityId}/waiting-room`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}
