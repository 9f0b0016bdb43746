-- After the win: what the side-effect consumers did. Each table is keyed by the outbox
-- event id, so a redelivered event (the relay is at-least-once) hits the primary key and is a no-op.

CREATE TABLE IF NOT EXISTS notifications (
  event_id      BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  order_id      BIGINT UNSIGNED NOT NULL,
  user_id       VARCHAR(64)     NOT NULL,
  event_type    VARCHAR(64)     NOT NULL,
  channel       VARCHAR(16)     NOT NULL,
  message       VARCHAR(500)    NOT NULL,
  sender        VARCHAR(32)     NOT NULL,
  created_at    DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  KEY notifications_order (order_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS loyalty_points (
  event_id      BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  order_id      BIGINT UNSIGNED NOT NULL,
  user_id       VARCHAR(64)     NOT NULL,
  points        BIGINT          NOT NULL,
  created_at    DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  KEY loyalty_points_user (user_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- One dispatch per paid order, whatever event delivered it.
CREATE TABLE IF NOT EXISTS warehouse_dispatches (
  event_id      BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  order_id      BIGINT UNSIGNED NOT NULL,
  activity_id   BIGINT UNSIGNED NOT NULL,
  user_id       VARCHAR(64)     NOT NULL,
  quantity      INT             NOT NULL,
  status        VARCHAR(20)     NOT NULL,
  created_at    DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  UNIQUE KEY warehouse_dispatches_order (order_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The reaper's query is (status, expires_at); payments are found by order (unique) and by id.
-- Reconciliation looks for recently cancelled orders of one activity.
CREATE INDEX IF NOT EXISTS orders_activity_status_updated ON orders (activity_id, status, updated_at);
