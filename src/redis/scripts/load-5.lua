--[[
  load: set an activity's sellable units in Redis from MySQL's truth (preheat and reconciliation).
  The caller holds the MySQL stock row FOR UPDATE while this runs, so `available` cannot move;
  units reserved in Redis but not yet settled by the worker are subtracted, so Redis never offers
  more than MySQL can still honour. (A reservation the worker already committed but not yet
  settled is subtracted twice for a moment: the safe direction, repaired by the next run.)
  Units held for waitlist offers are not on open sale either, and are subtracted too.
  So are units a steal took out of this shard and has not given yet (`transit`).

  Sharded activities call it once per shard with a QUOTA instead of `available`: the
  caller snapshots every shard's in-flight units, transit and held units, then gives shard i
  quota_i = inflight_i + held_i (as snapshot) + its share of what is left, and this script
  subtracts the shard's CURRENT in-flight, held and transit units. Reservations made on a shard
  between the snapshot and its load are thereby neither lost nor counted twice. Units moving
  between shards could not be: the caller stops steals while it loads (inventory.ts), so none is
  in transit.

  KEYS[1] nonEmpty
  KEYS[2] remaining
  KEYS[3] reservations
  KEYS[4] waitlistHeld   units held for waitlisted users
  KEYS[5] transit        hash transferId -> "units|takenAtMs|toShard" (steals not yet given)

  ARGV[1] segmentPrefix
  ARGV[2] segmentCount
  ARGV[3] available      MySQL activity_stock.available, read under the row lock (or the shard's quota)

  Returns {before, after, inFlight}; before is -1 when Redis held nothing for the activity.
]]
local nonEmptyKey = KEYS[1]
local remainingKey = KEYS[2]
local reservationsKey = KEYS[3]
local heldKey = KEYS[4]
local transitKey = KEYS[5]

local segmentPrefix = ARGV[1]
local segmentCount = tonumber(ARGV[2])
local available = tonumber(ARGV[3])

local before = tonumber(redis.call('GET', remainingKey) or '-1')

local inFlight = 0
local entries = redis.call('HVALS', reservationsKey)
for i = 1, #entries do
  local quantity = string.match(entries[i], '^[^|]*|(%d+)|')
  inFlight = inFlight + (tonumber(quantity) or 0)
end

local transit = 0
local moving = redis.call('HVALS', transitKey)
for i = 1, #moving do
  transit = transit + (tonumber(string.match(moving[i], '^(%d+)|')) or 0)
end

local held = tonumber(redis.call('GET', heldKey) or '0')
local target = math.max(0, available - inFlight - held - transit)
if target == before then
  return {before, target, inFlight}
end

-- Spread the units evenly; the first (target % n) segments take one more.
redis.call('DEL', nonEmptyKey)
local base = math.floor(target / segmentCount)
local extra = target % segmentCount
for i = 0, segmentCount - 1 do
  local units = base
  if i < extra then units = units + 1 end
  redis.call('SET', segmentPrefix .. i, units)
  if units > 0 then redis.call('SADD', nonEmptyKey, i) end
end
redis.call('SET', remainingKey, target)
return {before, target, inFlight}
