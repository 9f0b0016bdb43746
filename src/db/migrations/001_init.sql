-- The truth of the flash sale. Every write is designed for redelivery: unique keys make a replayed
-- Kafka message or a retried callback a no-op instead of a second order or a second payment.

CREATE TABLE IF NOT EXISTS commodities (
  id            BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name          VARCHAR(200)    NOT NULL,
  description   TEXT            NULL,
  price_cents   BIGINT          NOT NULL CHECK (price_cents >= 0),
  category      VARCHAR(100)    NULL,
  created_at    DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS activities (
  id                       BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name                     VARCHAR(200)    NOT NULL,
  commodity_id             BIGINT UNSIGNED NOT NULL,
  price_cents              BIGINT          NOT NULL CHECK (price_cents >= 0),
  start_at                 DATETIME(3)     NOT NULL,
  end_at                   DATETIME(3)     NOT NULL,
  limit_per_user           INT             NOT NULL CHECK (limit_per_user BETWEEN 1 AND 100),
  payment_timeout_seconds  INT             NOT NULL CHECK (payment_timeout_seconds BETWEEN 1 AND 86400),
  anti_bot                 VARCHAR(16)     NOT NULL DEFAULT 'none',
  challenge_difficulty     INT             NOT NULL DEFAULT 16,
  segments                 INT             NOT NULL DEFAULT 1 CHECK (segments BETWEEN 1 AND 64),
  created_at               DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  updated_at               DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
  CONSTRAINT activities_window CHECK (end_at > start_at),
  CONSTRAINT fk_activities_commodity FOREIGN KEY (commodity_id) REFERENCES commodities (id),
  KEY activities_start (start_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- One row per activity. The CHECK is the last guard of promise 1: whatever Redis or Kafka did,
-- MariaDB refuses any write that would oversell or lose a unit.
CREATE TABLE IF NOT EXISTS activity_stock (
  activity_id  BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  stock        INT NOT NULL,
  available    INT NOT NULL,
  locked       INT NOT NULL DEFAULT 0,
  sold         INT NOT NULL DEFAULT 0,
  CONSTRAINT stock_non_negative CHECK (stock >= 0 AND available >= 0 AND locked >= 0 AND sold >= 0),
  CONSTRAINT stock_balanced CHECK (available + locked + sold = stock),
  CONSTRAINT fk_stock_activity FOREIGN KEY (activity_id) REFERENCES activities (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Order ids are Snowflake ids made before publishing, so a redelivered message hits the primary key.
-- (activity_id, user_id, request_id) is unique too: a replayed purchase can never become two orders.
CREATE TABLE IF NOT EXISTS orders (
  id            BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  activity_id   BIGINT UNSIGNED NOT NULL,
  user_id       VARCHAR(64)     NOT NULL,
  request_id    VARCHAR(64)     NOT NULL,
  quantity      INT             NOT NULL CHECK (quantity > 0),
  amount_cents  BIGINT          NOT NULL,
  status        VARCHAR(20)     NOT NULL,
  reason        VARCHAR(32)     NULL,
  created_at    DATETIME(3)     NOT NULL,
  expires_at    DATETIME(3)     NULL,
  updated_at    DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
  UNIQUE KEY orders_request (activity_id, user_id, request_id),
  KEY orders_expiry (status, expires_at),
  KEY orders_user (user_id, activity_id, created_at),
  KEY orders_activity_status (activity_id, status)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Units a user holds in non-cancelled orders: the second guard of promise 3.
CREATE TABLE IF NOT EXISTS user_quota (
  activity_id  BIGINT UNSIGNED NOT NULL,
  user_id      VARCHAR(64)     NOT NULL,
  quantity     INT             NOT NULL CHECK (quantity >= 0),
  PRIMARY KEY (activity_id, user_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS payments (
  id            BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  order_id      BIGINT UNSIGNED NOT NULL,
  amount_cents  BIGINT          NOT NULL,
  status        VARCHAR(20)     NOT NULL,
  created_at    DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  updated_at    DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
  UNIQUE KEY payments_order (order_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Side effects written in the same transaction as the state change, relayed to Kafka afterwards.
CREATE TABLE IF NOT EXISTS outbox (
  id            BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  aggregate_id  VARCHAR(64)     NOT NULL,
  event_type    VARCHAR(64)     NOT NULL,
  payload       TEXT            NOT NULL,
  created_at    DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  published_at  DATETIME(3)     NULL,
  KEY outbox_pending (published_at, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
