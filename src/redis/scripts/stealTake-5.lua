--[[
  stealTake: the first half of moving units between two shards of one activity. Runs
  on the DONOR shard: takes up to half of its units out of open sale into its `transit` hash under
  a fresh transfer id. It never creates a unit: it only moves units from the counters into transit.
  The caller then runs stealGive-3.lua on the receiving shard (idempotent by transfer id) and
  finally deletes the transit entry. A crash in between strands the units in transit: not on sale,
  subtracted by load-5.lua, and completed (or voided) by reconciliation after a timeout.

  KEYS[1] nonEmpty      set of this shard's non-empty segment indexes
  KEYS[2] remaining     this shard's open-sale units
  KEYS[3] transit       hash transferId -> "units|takenAtMs|toShard"
  KEYS[4] pending       this shard's reservations whose publish is unconfirmed
  KEYS[5] loading       set while a load recounts the activity from MySQL (inventory.ts): no unit
                        leaves the shard then, or the load could count it on both shards

  ARGV[1] segmentPrefix
  ARGV[2] transferId    unique per call
  ARGV[3] want          units the receiver needs at least (it gets max(want, half), at most all)
  ARGV[4] nowMs
  ARGV[5] toShard       the receiving shard's index (for reconciliation)

  Returns {taken, pending}: taken units (0 when the shard is empty, -3 when it is not loaded, -6
  while a load is under way: nothing taken, ask again shortly) and this shard's count of
  unconfirmed publishes (units that may still come back to it).
]]
--- @include "includes/takeUnits"

local nonEmptyKey = KEYS[1]
local remainingKey = KEYS[2]
local transitKey = KEYS[3]
local pendingKey = KEYS[4]
local loadingKey = KEYS[5]

local segmentPrefix = ARGV[1]
local transferId = ARGV[2]
local want = tonumber(ARGV[3])
local nowMs = ARGV[4]
local toShard = ARGV[5]

local remainingText = redis.call('GET', remainingKey)
if not remainingText then
  return {-3, 0}
end
local has = tonumber(remainingText)
local pending = redis.call('HLEN', pendingKey)
if redis.call('EXISTS', loadingKey) == 1 then
  return {-6, pending}
end
if has <= 0 then
  return {0, pending}
end
local take = math.min(has, math.max(want, math.ceil(has / 2)))

local shortage = takeUnits(nonEmptyKey, remainingKey, segmentPrefix, take)
if shortage then
  return shortage
end
redis.call('HSET', transitKey, transferId, take .. '|' .. nowMs .. '|' .. toShard)
return {take, pending}
