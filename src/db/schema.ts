/**
 * The tables, as Kysely sees them. BIGINT ids arrive as strings (mysql2 `bigNumberStrings`), which is
 * also how API.md serialises them, so a 64-bit order id never passes through a lossy JS number.
 */
import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

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
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface ActivityStockTable {
  activity_id: Id;
  stock: number;
  available: number;
  locked: Generated<number>;
  sold: Generated<number>;
}

export const ORDER_STATUSES = ['QUEUED', 'PENDING_PAYMENT', 'PAID', 'CANCELLED', 'FAILED'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

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
  /** 0 for a request's one real order; its own id for a second id given to the same request (004). */
  duplicate_of: ColumnType<string, string | number | bigint | undefined, never>;
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
  status: string;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface OutboxTable {
  id: AutoId;
  aggregate_id: string;
  event_type: string;
  payload: string;
  created_at: CreatedAt;
  published_at: Date | null;
}

export interface Database {
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

// ---- issue #4: payments lifecycle and side-effect consumers (002_lifecycle.sql) ----

/** REFUND_REQUIRED: paid after its order was cancelled; REFUNDED: an operator gave the money back (005). */
export const PAYMENT_STATUSES = ['PROCESSING', 'SUCCEEDED', 'FAILED', 'REFUND_REQUIRED', 'REFUNDED'] as const;
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

export const OUTBOX_EVENT_TYPES = ['ORDER_CREATED', 'ORDER_PAID', 'ORDER_CANCELLED', 'REFUND_REQUIRED'] as const;
export type OutboxEventType = (typeof OUTBOX_EVENT_TYPES)[number];

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
