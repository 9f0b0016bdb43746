/**
 * Writes one activity's batch of reservations to MySQL in ONE transaction — the final guard:
 * a stock slot is locked, each order is checked against MySQL's own `available` and the user's
 * quota (never above limitPerUser), accepted orders move units available → locked with a
 * conditional UPDATE that cannot oversell, and the rest are written FAILED with their reason.
 * Every write is keyed by the Snowflake order id and (activity, user, requestId), so a redelivered
 * batch finds its orders already there and changes nothing.
 *
 * The activity's stock is split over slots (db/repositories/stock.ts) so that several workers on
 * one hot activity write at once: each batch locks one free slot and locks its orders' units
 * there. A slot that runs short takes units over from slots no other transaction holds; if the
 * units it lacks sit in a slot another transaction holds, the batch starts again holding every
 * slot (in slot order, waiting), so an order is refused OUT_OF_STOCK only when no slot has its units.
 */
import type { Db, Trx } from '../db/client.ts';
import { findSaleRules } from '../db/repositories/catalog.ts';
import { findExistingRequests, insertOrders, orderRow } from '../db/repositories/orders.ts';
import { appendOutbox } from '../db/repositories/outbox.ts';
import { ensureQuotaRows, listSlots, lockQuotas, lockSlot, lockSlots, lockUnits, moveAvailable, saveQuotas, type SlotRow } from '../db/repositories/stock.ts';
import type { NewOrder } from '../db/schema.ts';
import { inTransaction, retryTransaction } from '../db/tx.ts';
import type { FailReason, ReservationMessage } from '../domain/order.ts';

export type Verdict =
  | { kind: 'accepted'; message: ReservationMessage; expiresAt: Date }
  | { kind: 'failed'; message: ReservationMessage; reason: FailReason }
  /** Already in MySQL (redelivery): nothing written, only the Redis reservation to settle. */
  | { kind: 'duplicate'; message: ReservationMessage };

/** The units a batch lacks are in a slot another transaction holds: start again holding every slot. */
class SlotsBusy extends Error {}

/**
 * The slots a batch writes through: `home` (where its orders lock their units) and the others it
 * may take units from. Holding one slot, it only ever tries the others without waiting (SKIP
 * LOCKED), so two workers each holding a slot never wait for each other's.
 */
class Slots {
  private readonly tried = new Set<number>();
  private skipped = false;

  private readonly trx: Trx;
  private readonly activityId: string;
  readonly home: SlotRow;
  private readonly others: SlotRow[];
  /** Every slot is held (the second attempt): a slot still short means the activity is. */
  private readonly all: boolean;

  private constructor(trx: Trx, activityId: string, home: SlotRow, others: SlotRow[], all: boolean) {
    this.trx = trx;
    this.activityId = activityId;
    this.home = home;
    this.others = others;
    this.all = all;
  }

  /** `seen`: the slots as a snapshot read them (which hold units); undefined: the activity has no stock rows. */
  static async lock(trx: Trx, activityId: string, all: boolean, seen: SlotRow[]): Promise<Slots | undefined> {
    if (all) {
      const held = await lockSlots(trx, activityId);
      const home = held.reduce<SlotRow | undefined>((best, s) => (!best || s.available > best.available ? s : best), undefined);
      return home && new Slots(trx, activityId, home, held.filter((s) => s !== home), true);
    }
    if (seen.length === 0) return undefined;
    // A random start among the slots with units spreads concurrent workers over the slots.
    const withUnits = seen.filter((s) => s.available > 0);
    const pool = withUnits.length > 0 ? withUnits : seen;
    const start = Math.floor(Math.random() * pool.length);
    const order = [...pool.slice(start), ...pool.slice(0, start), ...seen.filter((s) => !pool.includes(s))];
    if (order.length > 1) {
      for (const candidate of order) {
        const home = await lockSlot(trx, activityId, candidate.slot, true);
        if (home) return new Slots(trx, activityId, home, order.filter((s) => s.slot !== home.slot), false);
      }
    }
    // One slot, or every slot busy: wait for one (holding nothing else yet, so no deadlock).
    const home = await lockSlot(trx, activityId, order[0]!.slot);
    return home && new Slots(trx, activityId, home, order.slice(1), false);
  }

  /**
   * Makes the home slot hold at least `needed` available units if the other slots can give them,
   * taking up to `wanted` (what the rest of the batch may need) from each so one batch moves rarely.
   * Throws SlotsBusy when it stays short and some units may sit in a slot another transaction holds.
   */
  async ensure(needed: number, wanted: number): Promise<void> {
    for (const other of this.others) {
      if (this.home.available >= needed) return;
      let donor: SlotRow | undefined = other;
      if (!this.all) {
        if (this.tried.has(other.slot)) continue;
        this.tried.add(other.slot);
        donor = await lockSlot(this.trx, this.activityId, other.slot, true);
        if (!donor) {
          this.skipped = true;
          continue;
        }
        other.available = donor.available;
      }
      const units = Math.min(other.available, Math.max(needed, wanted) - this.home.available);
      if (units <= 0) continue;
      await moveAvailable(this.trx, this.activityId, other.slot, this.home.slot, units);
      other.available -= units;
      this.home.available += units;
    }
    if (this.home.available < needed && this.skipped) throw new SlotsBusy();
  }
}

/**
 * `beforeCommit` runs inside the transaction, after every write, while the stock slots it used are
 * still locked: the worker settles the reservations there, so a preheat (which reads `available`
 * holding every slot and subtracts unsettled reservations) never sees an order both in MySQL and
 * still in flight — which would leave Redis short of units nobody holds.
 */
export async function persistActivityBatch(
  db: Db,
  activityId: string,
  messages: ReservationMessage[],
  beforeCommit?: (verdicts: Verdict[]) => Promise<void>,
): Promise<Verdict[]> {
  const seen = await listSlots(db, activityId);
  // With one slot its row lock serialises the batches; with several, batches run side by side.
  if (seen.length > 1) await ensureQuotaRows(db, activityId, [...new Set(messages.map((m) => m.userId))]);
  // Concurrent batches on one activity's slots can still deadlock in InnoDB (seen with four
  // workers, one of them holding every slot): the loser was rolled back whole, so it runs again at
  // once rather than failing the batch back to the worker's slower transient-error retry.
  try {
    return await retryTransaction(() => persistOnce(db, activityId, messages, { all: false, seen }, beforeCommit));
  } catch (error) {
    if (!(error instanceof SlotsBusy)) throw error;
    return retryTransaction(() => persistOnce(db, activityId, messages, { all: true, seen }, beforeCommit));
  }
}

async function persistOnce(
  db: Db,
  activityId: string,
  messages: ReservationMessage[],
  slotChoice: { all: boolean; seen: SlotRow[] },
  beforeCommit?: (verdicts: Verdict[]) => Promise<void>,
): Promise<Verdict[]> {
  return inTransaction(db, async (trx) => {
    // Lock stock first: it serialises the writers of these units (workers, cancellations,
    // preheat), so the checks below stay true until commit.
    const slots = await Slots.lock(trx, activityId, slotChoice.all, slotChoice.seen);
    const rules = await findSaleRules(trx, activityId);

    const existing = await findExistingRequests(
      trx,
      activityId,
      messages.map((m) => m.orderId),
      [...new Set(messages.map((m) => m.requestId))],
    );
    const existingIds = new Set(existing.map((r) => r.id));
    const takenRequests = new Set(existing.map((r) => `${r.userId}\u0000${r.requestId}`));

    const quota = await lockQuotas(trx, activityId, [...new Set(messages.map((m) => m.userId))]);
    const quotaBefore = new Map(quota);

    let taken = 0;
    // Upper bound of what the messages from here on may take: how much a short slot asks for.
    let demand = messages.reduce((n, m) => n + m.quantity, 0);
    const verdicts: Verdict[] = [];
    const rows: NewOrder[] = [];
    const seenIds = new Set<string>();
    const fail = (message: ReservationMessage, reason: FailReason, duplicateOf?: string) => {
      rows.push(orderRow(message, { status: 'FAILED', reason, duplicateOf }));
      verdicts.push({ kind: 'failed', message, reason });
    };
    for (const message of messages) {
      demand -= message.quantity;
      const request = `${message.userId}\u0000${message.requestId}`;
      if (existingIds.has(message.orderId) || seenIds.has(message.orderId)) {
        verdicts.push({ kind: 'duplicate', message });
        continue;
      }
      seenIds.add(message.orderId);
      if (takenRequests.has(request)) {
        // The same request already became another order (its first id; Redis forgot the answer
        // and handed out a second). The second id still gets a row, FAILED, so no id a client
        // was given is lost (promise 4); `duplicate_of` keeps it clear of the unique request key.
        fail(message, 'DUPLICATE_REQUEST', message.orderId);
        continue;
      }
      takenRequests.add(request);
      const held = quota.get(message.userId) ?? 0;
      if (!rules || !slots) {
        fail(message, 'ACTIVITY_NOT_FOUND');
        continue;
      }
      if (held + message.quantity > rules.limitPerUser) {
        fail(message, 'LIMIT_EXCEEDED');
        continue;
      }
      const needed = taken + message.quantity;
      if (slots.home.available < needed) await slots.ensure(needed, needed + demand);
      if (slots.home.available < needed) fail(message, 'OUT_OF_STOCK');
      else {
        taken = needed;
        quota.set(message.userId, held + message.quantity);
        const expiresAt = new Date(new Date(message.reservedAtMs).getTime() + rules.paymentTimeoutSeconds * 1000);
        rows.push(orderRow(message, { status: 'PENDING_PAYMENT', expiresAt }, slots.home.slot));
        verdicts.push({ kind: 'accepted', message, expiresAt });
      }
    }

    await insertOrders(trx, rows);

    // The conditional update is the guard of promise 1 even if the bookkeeping above were wrong.
    if (slots && taken > 0 && !(await lockUnits(trx, activityId, slots.home.slot, taken))) {
      throw new Error(`stock of activity ${activityId} moved under the lock`);
    }

    await saveQuotas(
      trx,
      activityId,
      [...quota].filter(([user, units]) => units !== (quotaBefore.get(user) ?? 0)),
    );

    await appendOutbox(
      trx,
      verdicts.flatMap((v) =>
        v.kind === 'accepted'
          ? [{ type: 'ORDER_CREATED' as const, orderId: v.message.orderId, payload: { ...v.message, expiresAt: v.expiresAt.toISOString() } }]
          : [],
      ),
    );
    await beforeCommit?.(verdicts);
    return verdicts;
  });
}
