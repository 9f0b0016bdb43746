--[[
  waitlistClaim: the purchase of a user holding a waitlist offer, atomically — the same bookkeeping
  as reserve (answer, user count, reservation entry, last order) but the unit comes from the
  waitlist's held units instead of open sale, so the offered user succeeds while the crowd sees
  SOLD_OUT for that unit. A user without a live offer gets {0} and goes the normal way.

  KEYS[1] offers        HASH userId -> offer expiry (epoch ms)
  KEYS[2] held          units held for the waitlist
  KEYS[3] userUnits
  KEYS[4] answer        the stored answer for (user, requestId)
  KEYS[5] reservations  hash orderId -> "userId|quantity|reservedAtMs|requestId"
  KEYS[6] lastOrder
  KEYS[7] expired       SET of users whose offer ran out
  KEYS[8] pending       hash orderId -> "reservedAtMs|userId|requestId" (see reserve-7.lua)

  ARGV[1] userId
  ARGV[2] quantity      an offer is for one unit; other quantities go the normal way
  ARGV[3] limitPerUser
  ARGV[4] orderId
  ARGV[5] requestId
  ARGV[6] nowMs
  ARGV[7] ttlSeconds

  Returns {code, value}:
     1, orderId   reserved now from the held unit (answer stored pending, as in reserve-7.lua)
     2, answer    replay of this requestId
     0, ''        no live offer for this user (nothing changed)
    -2, ''        LIMIT_EXCEEDED (stored as the answer; the offer is left to expire and pass on)
]]
--- @include "includes/recordReservation"

local offersKey = KEYS[1]
local heldKey = KEYS[2]
local userUnitsKey = KEYS[3]
local answerKey = KEYS[4]
local reservationsKey = KEYS[5]
local lastOrderKey = KEYS[6]
local expiredKey = KEYS[7]
local pendingKey = KEYS[8]

local userId = ARGV[1]
local quantity = tonumber(ARGV[2])
local limitPerUser = tonumber(ARGV[3])
local orderId = ARGV[4]
local requestId = ARGV[5]
local nowMs = ARGV[6]
local ttlSeconds = tonumber(ARGV[7])

local previous = redis.call('GET', answerKey)
if previous then
  return {2, previous}
end
local offer = redis.call('HGET', offersKey, userId)
if not offer or tonumber(offer) <= tonumber(nowMs) or quantity ~= 1 then
  return {0, ''}
end
local heldByUser = tonumber(redis.call('GET', userUnitsKey) or '0')
if heldByUser + quantity > limitPerUser then
  redis.call('SET', answerKey, 'E:LIMIT_EXCEEDED', 'EX', ttlSeconds)
  return {-2, ''}
end

redis.call('HDEL', offersKey, userId)
redis.call('SREM', expiredKey, userId)
redis.call('DECRBY', heldKey, quantity)
recordReservation({
  userUnitsKey = userUnitsKey, reservationsKey = reservationsKey, pendingKey = pendingKey,
  answerKey = answerKey, lastOrderKey = lastOrderKey,
  orderId = orderId, userId = userId, requestId = requestId,
  quantity = quantity, nowMs = nowMs, ttlSeconds = ttlSeconds,
})
return {1, orderId}
