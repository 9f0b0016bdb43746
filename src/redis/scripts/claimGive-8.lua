--[[
  claimGive: the second half of a cross-shard waitlist claim (see waitlistTake-5.lua). Runs on the
  buyer's HOME shard, at most once per transfer (marker): the transferred unit becomes the user's
  reservation with the same bookkeeping as reserve-7.lua. If the request already has an answer, or
  the user is at the limit, the unit goes on open sale on this shard instead: never lost, never
  created.

  KEYS[1] marker        set once per transfer id
  KEYS[2] userUnits
  KEYS[3] answer
  KEYS[4] reservations
  KEYS[5] lastOrder
  KEYS[6] pending
  KEYS[7] nonEmpty
  KEYS[8] remaining

  ARGV[1] segmentPrefix
  ARGV[2] segment        where the unit goes if it is not reserved
  ARGV[3] userId
  ARGV[4] limitPerUser
  ARGV[5] orderId
  ARGV[6] requestId
  ARGV[7] nowMs
  ARGV[8] ttlSeconds
  ARGV[9] markerTtlSeconds

  Returns {code, value}:
     1, orderId   reserved now (answer stored pending, as in reserve-7.lua)
     2, answer    replay: the request had an answer; the unit went on open sale
    -2, ''        LIMIT_EXCEEDED (stored); the unit went on open sale
     0, ''        this transfer was already given or voided: nothing changed
    -3, ''        this shard is not loaded: the transfer is voided (a load recounts the unit)
]]
--- @include "includes/giveUnits"
--- @include "includes/recordReservation"

local markerKey = KEYS[1]
local userUnitsKey = KEYS[2]
local answerKey = KEYS[3]
local reservationsKey = KEYS[4]
local lastOrderKey = KEYS[5]
local pendingKey = KEYS[6]
local nonEmptyKey = KEYS[7]
local remainingKey = KEYS[8]

local segmentPrefix = ARGV[1]
local segment = ARGV[2]
local userId = ARGV[3]
local limitPerUser = tonumber(ARGV[4])
local orderId = ARGV[5]
local requestId = ARGV[6]
local nowMs = ARGV[7]
local ttlSeconds = tonumber(ARGV[8])
local markerTtl = tonumber(ARGV[9])

if not redis.call('SET', markerKey, '1', 'NX', 'EX', markerTtl) then
  return {0, ''}
end
if redis.call('EXISTS', remainingKey) == 0 then
  return {-3, ''}
end

local previous = redis.call('GET', answerKey)
if previous then
  giveUnits(nonEmptyKey, remainingKey, segmentPrefix, segment, 1)
  return {2, previous}
end
local held = tonumber(redis.call('GET', userUnitsKey) or '0')
if held + 1 > limitPerUser then
  giveUnits(nonEmptyKey, remainingKey, segmentPrefix, segment, 1)
  redis.call('SET', answerKey, 'E:LIMIT_EXCEEDED', 'EX', ttlSeconds)
  return {-2, ''}
end

recordReservation({
  userUnitsKey = userUnitsKey, reservationsKey = reservationsKey, pendingKey = pendingKey,
  answerKey = answerKey, lastOrderKey = lastOrderKey,
  orderId = orderId, userId = userId, requestId = requestId,
  quantity = 1, nowMs = nowMs, ttlSeconds = ttlSeconds,
})
return {1, orderId}
