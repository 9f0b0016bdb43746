/**
 * The tables, as Kysely sees them. BIGINT ids arrive as strings (mysql2 `bigNumberStrings`), which is
 * also how the contract (docs/api.md) serialises them, so a 64-bit order id never passes through a lossy JS number.
 */
import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';
import type { OutboxEventType } from '../domain/events.ts';
import type { OrderStatus } from '../domain/order.ts';
import type { PaymentStatus } from '../domain/payment.ts';

type Id = ColumnType<string, string | number | bigint, never>;
type AutoId = ColumnType<string, never, never>;
type CreatedAt = ColumnType<Date, Date | undefined, never>;
type UpdatedAt = ColumnType<Date, Date | undefined, Date | undefined>;

export interface CommoditiesTable {
  id: AutoId;
  name: string;
  description: string | null;
  price_cents: ColumnType<number, number, number>;
  category: string | null;
  created_at: CreatedAt;
}

export interface ActivitiesTable {
  id: AutoId;
  name: string;
  commodity_id: Id;
  price_cents: number;
  start_at: Date;
  end_at: Date;
  limit_per_user: number;
  payment_timeout_seconds: number;
  anti_bot: string;
  challenge_difficulty: number;
  segments: number;
  shards: Generated<number>;
  /** Set while an operator has paused the sale (migration 009). */
  paused_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  wr_mode: Generated<string>;
  wr_prequeue_seconds: Generated<number>;
  wr_admit_per_second: Generated<number>;
  wr_pass_seconds: Generated<number>;
  wr_keep_seconds: Generated<number>;
  wr_paused: Generated<number>;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface ActivityStockTable {
  activity_id: Id;
  /** The activity's units are split over slots 0..n-1 (migration 007); one slot is the whole stock. */
  slot: Generated<number>;
  stock: number;
  available: number;
  locked: Generated<number>;
  sold: Generated<number>;
}

export interface OrdersTable {
  id: Id;
  activity_id: Id;
  user_id: string;
  request_id: string;
  quantity: number;
  amount_cents: number;
  status: OrderStatus;
  reason: string | null;
  created_at: ColumnType<Date, Date, never>;
  expires_at: Date | null;
  updated_at: UpdatedAt;
  /** 0 for a request's one real order; its own id for a second id given to the same request (migration 004). */
  duplicate_of: ColumnType<string, string | number | bigint | undefined, never>;
  /** The activity_stock slot holding this order's units (migration 007). */
  stock_slot: Generated<number>;
}

export interface UserQuotaTable {
  activity_id: Id;
  user_id: string;
  quantity: number;
}

export interface PaymentsTable {
  id: Id;
  order_id: Id;
  amount_cents: number;
  status: PaymentStatus;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface OutboxTable {
  id: AutoId;
  aggregate_id: string;
  event_type: OutboxEventType;
  payload: string;
  created_at: CreatedAt;
  published_at: Date | null;
}

/** One admin action (migration 009): who, what, on what, when, and the answer's status. */
export interface AdminAuditTable {
  id: AutoId;
  at: CreatedAt;
  actor: string;
  action: string;
  target: string | null;
  status: number;
  detail: string | null;
}

export interface Database {
  admin_audit: AdminAuditTable;
  commodities: CommoditiesTable;
  activities: ActivitiesTable;
  activity_stock: ActivityStockTable;
  orders: OrdersTable;
  user_quota: UserQuotaTable;
  payments: PaymentsTable;
  outbox: OutboxTable;
}

export type ActivityRow = Selectable<ActivitiesTable>;
export type CommodityRow = Selectable<CommoditiesTable>;
export type OrderRow = Selectable<OrdersTable>;
export type NewOrder = Insertable<OrdersTable>;
export type PaymentRow = Selectable<PaymentsTable>;

// ---- The side-effect consumers' tables (002_lifecycle.sql) ----

export interface NotificationsTable {
  event_id: Id;
  order_id: Id;
  user_id: string;
  event_type: string;
  channel: string;
  message: string;
  sender: string;
  created_at: CreatedAt;
}

export interface LoyaltyPointsTable {
  event_id: Id;
  order_id: Id;
  user_id: string;
  points: number;
  created_at: CreatedAt;
}

export interface WarehouseDispatchesTable {
  event_id: Id;
  order_id: Id;
  activity_id: Id;
  user_id: string;
  quantity: number;
  status: string;
  created_at: CreatedAt;
}

/** The consumers' tables; use with `db.withTables<LifecycleTables>()` (Database stays as it was). */
export type LifecycleTables = {
  notifications: NotificationsTable;
  loyalty_points: LoyaltyPointsTable;
  warehouse_dispatches: WarehouseDispatchesTable;
};
