/**
 * A big sale's MySQL stock is split over slots, so several order workers persist one activity at
 * once. Held to: the slots sum to the stock; concurrent workers sell exactly the stock, never more
 * (every slot balanced, never below zero) and never less while demand remains; a batch does not
 * wait for a slot another worker holds while another slot has its units; a batch whose units
 * sit in a slot another transaction holds waits for it instead of refusing the orders; a move
 * between slots cannot take a donor below zero; a cancelled order's units go back to its slot.
 */
import { WAITING_ROOM_OFF } from '../../src/domain/waiting-room.ts';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { createDb, type Db } from '../../src/db/client.ts';
import { migrate } from '../../src/db/migrate.ts';
import { findActivity, insertActivity, insertCommodity } from '../../src/db/repositories/catalog.ts';
import { findStock, listSlots, lockSlot, moveAvailable, unlockUnits } from '../../src/db/repositories/stock.ts';
import { stockSlots } from '../../src/domain/activity.ts';
import type { ReservationMessage } from '../../src/domain/order.ts';
import { persistActivityBatch } from '../../src/purchase/order-persister.ts';
import { testEnv } from '../support/env.ts';

describe('activity stock split over slots', () => {
  const env = testEnv({}, 'slots');
  let db: Db;
  let close: () => Promise<void>;
  let next = 1;

  async function sale(stock: number, limitPerUser = 100): Promise<string> {
    const commodity = await insertCommodity(db, { name: 'w', description: null, priceCents: 100, category: null });
    const now = Date.now();
    const activity = await insertActivity(db, {
      name: 'slots',
      commodityId: commodity.id,
      priceCents: 100,
      stock,
      startAt: new Date(now - 1000),
      endAt: new Date(now + 3600_000),
      limitPerUser,
      paymentTimeoutSeconds: 300,
      antiBot: 'none',
      challengeDifficulty: 0,
      waitingRoom: WAITING_ROOM_OFF,
      segments: 1,
      shards: 1,
    });
    return activity.id;
  }

  const message = (activityId: string, quantity: number, userId = `u${next}`): ReservationMessage => {
    const id = next++;
    return { orderId: String(id), activityId, userId, requestId: `r${id}`, quantity, unitPriceCents: 100, reservedAtMs: Date.now() };
  };

  async function assertBalanced(activityId: string): Promise<void> {
    for (const s of await listSlots(db, activityId)) {
      assert.equal(s.available + s.locked + s.sold, s.stock, `slot ${s.slot} balanced`);
      assert.ok(s.available >= 0 && s.locked >= 0 && s.stock >= 0, `slot ${s.slot} never below zero`);
    }
  }

  before(async () => {
    await migrate(env.config.mysql.url);
    const made = createDb(env.config.mysql.url, { connectionLimit: 12 });
    db = made.db;
    close = () => made.db.destroy();
  });

  after(async () => {
    await close?.();
    await env.cleanup();
  });

  test('a big sale gets several slots that sum to its stock; a small one keeps one row', async () => {
    const big = await sale(4001);
    const slots = await listSlots(db, big);
    assert.equal(slots.length, stockSlots(4001));
    assert.ok(slots.length > 1);
    assert.equal(slots.reduce((n, s) => n + s.stock, 0), 4001);
    assert.equal((await findActivity(db, big))?.stock, 4001);
    assert.deepEqual(await findStock(db, big), { stock: 4001, available: 4001, locked: 0, sold: 0 });
    assert.equal((await listSlots(db, await sale(50))).length, 1);
  });

  test('4 concurrent workers sell exactly the stock: every unit, never one more', async () => {
    const id = await sale(4000);
    let accepted = 0;
    let refused = 0;
    const worker = async () => {
      for (let b = 0; b < 8; b++) {
        const verdicts = await persistActivityBatch(db, id, Array.from({ length: 200 }, (_, i) => message(id, 1 + (i % 3))));
        for (const v of verdicts) {
          if (v.kind === 'accepted') accepted += v.message.quantity;
          else if (v.kind === 'failed') {
            assert.equal(v.reason, 'OUT_OF_STOCK');
            refused += v.message.quantity;
          }
        }
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    assert.equal(accepted, 4000, 'every unit sold while demand remained (9,600 units asked)');
    assert.ok(refused > 0);
    assert.deepEqual(await findStock(db, id), { stock: 4000, available: 0, locked: 4000, sold: 0 });
    await assertBalanced(id);
    // Each slot's locked units are exactly its orders' units: a cancellation finds them there.
    const perSlot = await db
      .selectFrom('orders')
      .select(['stock_slot', sql<number>`SUM(quantity)`.as('units')])
      .where('activity_id', '=', id)
      .where('status', '=', 'PENDING_PAYMENT')
      .groupBy('stock_slot')
      .execute();
    const locked = new Map((await listSlots(db, id)).map((s) => [s.slot, s.locked]));
    for (const row of perSlot) assert.equal(Number(row.units), locked.get(Number(row.stock_slot)), `slot ${row.stock_slot}`);
    assert.equal(perSlot.reduce((n, r) => n + Number(r.units), 0), 4000);
  });

  test('a worker holding a slot does not hold up another: no serial point on one row', async () => {
    const id = await sale(4000);
    let release!: () => void;
    let holding!: () => void;
    const held = new Promise<void>((resolve) => (holding = resolve));
    // A batch in progress on one slot (as a worker holds it from its first statement to COMMIT).
    const holder = db.transaction().execute(async (trx) => {
      const [first] = await listSlots(trx, id);
      await lockSlot(trx, id, first!.slot);
      holding();
      await new Promise<void>((resolve) => (release = resolve));
    });
    await held;
    try {
      const started = Date.now();
      const verdicts = await Promise.race([
        persistActivityBatch(db, id, Array.from({ length: 50 }, () => message(id, 1))),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the batch waited for the held slot')), 3000)),
      ]);
      assert.ok(verdicts.every((v) => v.kind === 'accepted'));
      assert.ok(Date.now() - started < 3000);
    } finally {
      release();
      await holder;
    }
    assert.deepEqual(await findStock(db, id), { stock: 4000, available: 3950, locked: 50, sold: 0 });
  });

  test('units only in a slot another transaction holds: the batch waits for it, none refused', async () => {
    const id = await sale(2000);
    const [first, second] = await listSlots(db, id);
    assert.ok(first && second);
    // Everything in the second slot, which a cancellation-like transaction then holds a while.
    await moveAvailable(db, id, first.slot, second.slot, first.available);
    let release!: () => void;
    let holding!: () => void;
    const held = new Promise<void>((resolve) => (holding = resolve));
    const holder = db.transaction().execute(async (trx) => {
      await lockSlot(trx, id, second.slot);
      holding();
      await new Promise<void>((resolve) => (release = resolve));
    });
    await held;
    const persisted = persistActivityBatch(db, id, [message(id, 2), message(id, 1)]);
    await new Promise((r) => setTimeout(r, 300));
    release();
    await holder;
    const verdicts = await persisted;
    assert.deepEqual(
      verdicts.map((v) => v.kind),
      ['accepted', 'accepted'],
    );
    assert.deepEqual(await findStock(db, id), { stock: 2000, available: 1997, locked: 3, sold: 0 });
    await assertBalanced(id);
  });

  test('a move cannot take a slot below zero; a cancellation returns units to its own slot', async () => {
    const id = await sale(2000);
    const [a, b] = await listSlots(db, id);
    assert.ok(a && b);
    await assert.rejects(moveAvailable(db, id, a.slot, b.slot, a.available + 1));
    assert.deepEqual(await findStock(db, id), { stock: 2000, available: 2000, locked: 0, sold: 0 });

    const [verdict] = await persistActivityBatch(db, id, [message(id, 5)]);
    assert.equal(verdict?.kind, 'accepted');
    const order = await db.selectFrom('orders').select(['stock_slot']).where('id', '=', verdict!.message.orderId).executeTakeFirstOrThrow();
    const other = order.stock_slot === a.slot ? b.slot : a.slot;
    assert.equal(await unlockUnits(db, id, other, 5), false, 'the other slot has no locked units');
    assert.equal(await unlockUnits(db, id, order.stock_slot, 5), true);
    assert.deepEqual(await findStock(db, id), { stock: 2000, available: 2000, locked: 0, sold: 0 });
    await assertBalanced(id);
  });
});
