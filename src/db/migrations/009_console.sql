-- An operator can pause a sale (purchases are refused with 403 PAUSED while paused_at is set, and
-- nothing is reserved), and every admin action is recorded: who, what, on what, when, and how it ended.
ALTER TABLE activities ADD COLUMN IF NOT EXISTS paused_at DATETIME(3) NULL DEFAULT NULL;

CREATE TABLE IF NOT EXISTS admin_audit (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  actor VARCHAR(64) NOT NULL,
  action VARCHAR(64) NOT NULL,
  target VARCHAR(64) NULL,
  status SMALLINT NOT NULL,
  detail TEXT NULL,
  KEY admin_audit_at (at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
