--[[
  restoreLost: writes back a reservation Redis lost (restarted empty, or a failover that dropped
  the write) while the API process that made it was still publishing it to Kafka. Until Kafka
  acknowledges the message, Redis is the only record that the unit is taken: without it, a rebuild
  from MySQL counts the unit as free and sells it again, and one of the two 202s ends FAILED.
  The caller holds the MySQL stock lock and has seen that the order has no row, so the worker has
  not settled it: a reservation that became an order is never brought back.

  On a shard that is not loaded, only the reservation entry (and its pending mark) is written; the
  rebuild subtracts it and gives its buyer their count and answer back (inventory.ts). On a shard
  loaded since, the load counted the unit as free: it is taken back from open sale, and the buyer's
  count, answer and latest order are written as reserve-7.lua wrote them.

  KEYS[1] reservations
  KEYS[2] pending
  KEYS[3] userUnits
  KEYS[4] answer
  KEYS[5] lastOrder
  KEYS[6] nonEmpty
  KEYS[7] remaining

  ARGV[1] segmentPrefix
  ARGV[2] orderId
  ARGV[3] userId
  ARGV[4] requestId
  ARGV[5] quantity
  ARGV[6] reservedAtMs
  ARGV[7] ttlSeconds
  ARGV[8] confirmed      '1': the buyer was told 202 (the answer is "O:<orderId>", no pending mark)

  Returns 0 when the reservation was there, 1 when it was written back, 2 when it was written back
  but open sale no longer held its units (they were sold again: MySQL refuses one of the orders).
]]
--- @include "includes/takeUnits"

local reservationsKey = KEYS[1]
local pendingKey = KEYS[2]
local userUnitsKey = KEYS[3]
local answerKey = KEYS[4]
local lastOrderKey = KEYS[5]
local nonEmptyKey = KEYS[6]
local remainingKey = KEYS[7]

local segmentPrefix = ARGV[1]
local orderId = ARGV[2]
local userId = ARGV[3]
local requestId = ARGV[4]
local quantity = tonumber(ARGV[5])
local reservedAtMs = ARGV[6]
local ttlSeconds = tonumber(ARGV[7])
local confirmed = ARGV[8] == '1'

if redis.call('HEXISTS', reservationsKey, orderId) == 1 then
  return 0
end
redis.call('HSET', reservationsKey, orderId, userId .. '|' .. quantity .. '|' .. reservedAtMs .. '|' .. requestId)
if not confirmed then
  redis.call('HSET', pendingKey, orderId, reservedAtMs .. '|' .. userId .. '|' .. requestId)
end
local remaining = redis.call('GET', remainingKey)
if not remaining then
  return 1
end

redis.call('INCRBY', userUnitsKey, quantity)
redis.call('EXPIRE', userUnitsKey, ttlSeconds)
local prefix = 'P:'
if confirmed then prefix = 'O:' end
-- NX: a replay since the loss may have stored another answer; the worker settles the duplicate.
redis.call('SET', answerKey, prefix .. orderId, 'EX', ttlSeconds, 'NX')
redis.call('SET', lastOrderKey, orderId, 'EX', ttlSeconds)
if tonumber(remaining) < quantity then
  return 2
end
local shortage = takeUnits(nonEmptyKey, remainingKey, segmentPrefix, quantity)
if shortage then
  return shortage
end
return 1
