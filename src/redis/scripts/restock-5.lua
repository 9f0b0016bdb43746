--[[
  restock: give a cancelled order's units back (user cancel, failed payment, payment timeout).
  Runs inside the MySQL cancel transaction, under the stock row lock, before COMMIT (see
  src/lifecycle/cancellation.ts). The marker key makes it idempotent: a retry after a crash, or a
  reconciliation racing the retry, returns the units at most once.

  KEYS[1] nonEmpty
  KEYS[2] remaining
  KEYS[3] userUnits
  KEYS[4] marker        set once per order when its units come back
  KEYS[5] reservations  the order's reservation entry, dropped if the worker never settled it

  ARGV[1] segmentPrefix
  ARGV[2] segment
  ARGV[3] orderId
  ARGV[4] quantity
  ARGV[5] markerTtlSeconds

  Returns 1 when the units were returned now, 0 when they had been already.
]]
--- @include "includes/giveUnits"
--- @include "includes/releaseUserUnits"

local nonEmptyKey = KEYS[1]
local remainingKey = KEYS[2]
local userUnitsKey = KEYS[3]
local markerKey = KEYS[4]
local reservationsKey = KEYS[5]

local segmentPrefix = ARGV[1]
local segment = ARGV[2]
local orderId = ARGV[3]
local quantity = tonumber(ARGV[4])
local markerTtl = tonumber(ARGV[5])

if not redis.call('SET', markerKey, '1', 'NX', 'EX', markerTtl) then
  return 0
end
redis.call('HDEL', reservationsKey, orderId)

-- A Redis that lost the activity (restart) is rebuilt from MySQL by preheat, which already
-- counts this unit as available; adding it here too would count it twice.
if redis.call('EXISTS', remainingKey) == 1 then
  giveUnits(nonEmptyKey, remainingKey, segmentPrefix, segment, quantity)
end
releaseUserUnits(userUnitsKey, quantity)
return 1
