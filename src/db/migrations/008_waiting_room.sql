-- The waiting room in front of the purchase, per activity: 'off' keeps the open rush; 'fifo' and
-- 'random' (the pre-queue shuffled at startAt) admit buyers at a steady pace with a signed pass.
-- wr_admit_per_second 0 = automatic (sized by the units still on sale and the measured drain).
ALTER TABLE activities
  ADD COLUMN IF NOT EXISTS wr_mode VARCHAR(8) NOT NULL DEFAULT 'off' CHECK (wr_mode IN ('off', 'fifo', 'random')),
  ADD COLUMN IF NOT EXISTS wr_prequeue_seconds INT NOT NULL DEFAULT 900 CHECK (wr_prequeue_seconds BETWEEN 0 AND 86400),
  ADD COLUMN IF NOT EXISTS wr_admit_per_second INT NOT NULL DEFAULT 0 CHECK (wr_admit_per_second BETWEEN 0 AND 100000),
  ADD COLUMN IF NOT EXISTS wr_pass_seconds INT NOT NULL DEFAULT 120 CHECK (wr_pass_seconds BETWEEN 5 AND 3600),
  ADD COLUMN IF NOT EXISTS wr_keep_seconds INT NOT NULL DEFAULT 60 CHECK (wr_keep_seconds BETWEEN 5 AND 3600),
  ADD COLUMN IF NOT EXISTS wr_paused TINYINT NOT NULL DEFAULT 0;
