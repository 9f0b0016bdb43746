-- Issue #11: an activity's Redis stock is split over `shards` shards (1 = one hash tag, the
-- behaviour before), each buyer reserving on a home shard chosen by a hash of the user id.
ALTER TABLE activities ADD COLUMN IF NOT EXISTS shards INT NOT NULL DEFAULT 1 CHECK (shards BETWEEN 1 AND 64);
