--[[
  reserve: the whole admission decision of one purchase, atomically.
  Order matters: the buyer is checked BEFORE any unit is taken, so a refused buyer never leaks
  stock (the classic bug of decrementing first and checking the user afterwards).

  KEYS[1] nonEmpty      set of segment indexes that still hold units
  KEYS[2] remaining     sum of all segments
  KEYS[3] userUnits     units this user holds in the activity
  KEYS[4] answer        the stored answer for (user, requestId)
  KEYS[5] reservations  hash orderId -> "userId|quantity|reservedAtMs|requestId"
  KEYS[6] lastOrder     the user's latest order id in the activity (for my-order while QUEUED)
  KEYS[7] pending       hash orderId -> "reservedAtMs|userId|requestId": reserved, Kafka publish
                        not yet confirmed (see confirm-2.lua)

  ARGV[1] segmentPrefix  segment i lives at segmentPrefix..i (same hash tag as the KEYS)
  ARGV[2] quantity
  ARGV[3] limitPerUser
  ARGV[4] orderId        made by the caller before the call, so it can be published right after
  ARGV[5] userId
  ARGV[6] requestId
  ARGV[7] nowMs
  ARGV[8] ttlSeconds     how long the answer and the user's count are kept
  ARGV[9] shardOnly      '1': this is the buyer's home shard of a sharded activity and
                         other shards may still hold units: a shortage is answered -5 and NOTHING is
                         stored (the API steals units from another shard, or asks again with '0');
                         '0' or absent: a shortage is the activity's final answer (SOLD_OUT / -4)

  Returns {code, value}:
     1, orderId   reserved now; the answer is stored as "P:<orderId>" (pending) until the caller
                  confirms the Kafka publish: a replay must not be told 202 for an order whose
                  publish may still fail and be released
     2, answer    replay: the answer stored for this requestId ("P:<orderId>", "O:<orderId>" or "E:<code>")
    -1, ''        SOLD_OUT (stored as the answer)
    -2, ''        LIMIT_EXCEEDED (stored as the answer)
    -3, ''        NOT_PREHEATED: the activity has no stock in Redis (nothing stored)
    -4, ''        short of stock, but units are held by reservations whose publish is not confirmed:
                  they may come back (a failed publish), so the answer is "busy", not SOLD_OUT
                  (nothing stored)
    -5, pending   (shardOnly) this shard is short; pending = its unconfirmed publishes (nothing stored)
]]
--- @include "includes/takeUnits"
--- @include "includes/recordReservation"

local nonEmptyKey = KEYS[1]
local remainingKey = KEYS[2]
local userUnitsKey = KEYS[3]
local answerKey = KEYS[4]
local reservationsKey = KEYS[5]
local lastOrderKey = KEYS[6]
local pendingKey = KEYS[7]

local segmentPrefix = ARGV[1]
local quantity = tonumber(ARGV[2])
local limitPerUser = tonumber(ARGV[3])
local orderId = ARGV[4]
local userId = ARGV[5]
local requestId = ARGV[6]
local nowMs = ARGV[7]
local ttlSeconds = tonumber(ARGV[8])
local shardOnly = ARGV[9] == '1'

local previous = redis.call('GET', answerKey)
if previous then
  return {2, previous}
end

local remaining = redis.call('GET', remainingKey)
if not remaining then
  return {-3, ''}
end

local held = tonumber(redis.call('GET', userUnitsKey) or '0')
if held + quantity > limitPerUser then
  redis.call('SET', answerKey, 'E:LIMIT_EXCEEDED', 'EX', ttlSeconds)
  return {-2, ''}
end

if tonumber(remaining) < quantity then
  if shardOnly then
    return {-5, redis.call('HLEN', pendingKey)}
  end
  if redis.call('HLEN', pendingKey) > 0 then
    return {-4, ''}
  end
  redis.call('SET', answerKey, 'E:SOLD_OUT', 'EX', ttlSeconds)
  return {-1, ''}
end

local shortage = takeUnits(nonEmptyKey, remainingKey, segmentPrefix, quantity)
if shortage then
  return shortage
end
recordReservation({
  userUnitsKey = userUnitsKey, reservationsKey = reservationsKey, pendingKey = pendingKey,
  answerKey = answerKey, lastOrderKey = lastOrderKey,
  orderId = orderId, userId = userId, requestId = requestId,
  quantity = quantity, nowMs = nowMs, ttlSeconds = ttlSeconds,
})
return {1, orderId}
