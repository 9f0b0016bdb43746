-- An activity's MySQL stock is split over slots: one activity_stock row per (activity, slot), each
-- CHECKed on its own (never below zero, always balanced), so the last guard against overselling
-- holds slot by slot and therefore for their sum. Several order workers on one hot activity each
-- lock a different slot instead of queueing on one row. An existing row becomes slot 0.
ALTER TABLE activity_stock ADD COLUMN IF NOT EXISTS slot INT NOT NULL DEFAULT 0 CHECK (slot BETWEEN 0 AND 63) AFTER activity_id;
ALTER TABLE activity_stock DROP PRIMARY KEY, ADD PRIMARY KEY (activity_id, slot);
-- The slot whose units an order locked: its cancellation or payment moves them in that same slot.
ALTER TABLE orders ADD COLUMN IF NOT EXISTS stock_slot INT NOT NULL DEFAULT 0;
