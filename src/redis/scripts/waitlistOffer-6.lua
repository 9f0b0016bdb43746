--[[
  waitlistOffer: one pass of the waitlist. Runs right after a cancelled order's units came back
  (in the same MULTI as restock, so no buyer can slip in between) and periodically.
    1. offers past their expiry are dropped (the user sees EXPIRED); their unit stays held;
    2. while users wait, held units without an offer go to the next waiting user, and units on
       open sale are taken off it first: returned units are offered in order before the crowd;
    3. when nobody waits any more, held units without an offer go back on open sale.

  KEYS[1] nonEmpty    set of non-empty segment indexes
  KEYS[2] remaining   open-sale units (sum of segments)
  KEYS[3] queue       ZSET userId -> join sequence
  KEYS[4] offers      HASH userId -> offer expiry (epoch ms)
  KEYS[5] held        units held for the waitlist (not in remaining)
  KEYS[6] expired     SET of users whose offer ran out

  ARGV[1] segmentPrefix
  ARGV[2] segment     where units given back to open sale go
  ARGV[3] nowMs
  ARGV[4] offerMs     how long an offer holds its unit

  Returns {returnedToSale, {user1, expiresAt1, user2, ...}, {expiredUser1, ...}}
]]
--- @include "includes/giveUnits"

local nonEmptyKey = KEYS[1]
local remainingKey = KEYS[2]
local queueKey = KEYS[3]
local offersKey = KEYS[4]
local heldKey = KEYS[5]
local expiredKey = KEYS[6]

local segmentPrefix = ARGV[1]
local segment = ARGV[2]
local nowMs = tonumber(ARGV[3])
local offerMs = tonumber(ARGV[4])

local expiredNow = {}
local all = redis.call('HGETALL', offersKey)
for i = 1, #all, 2 do
  if tonumber(all[i + 1]) <= nowMs then
    redis.call('HDEL', offersKey, all[i])
    redis.call('SADD', expiredKey, all[i])
    expiredNow[#expiredNow + 1] = all[i]
  end
end

local free = tonumber(redis.call('GET', heldKey) or '0') - redis.call('HLEN', offersKey)
local remainingText = redis.call('GET', remainingKey)
local remaining = tonumber(remainingText or '0')
local offered = {}
while redis.call('ZCARD', queueKey) > 0 do
  if free > 0 then
    local popped = redis.call('ZPOPMIN', queueKey)
    local userId = popped[1]
    local expiresAt = nowMs + offerMs
    redis.call('HSET', offersKey, userId, expiresAt)
    redis.call('SREM', expiredKey, userId)
    offered[#offered + 1] = userId
    offered[#offered + 1] = expiresAt
    free = free - 1
  else
    if remaining <= 0 then break end
    local taken = redis.call('SRANDMEMBER', nonEmptyKey)
    if not taken then break end
    local segmentKey = segmentPrefix .. taken
    local has = tonumber(redis.call('GET', segmentKey) or '0')
    if has > 0 then
      redis.call('DECRBY', segmentKey, 1)
      redis.call('DECRBY', remainingKey, 1)
      redis.call('INCRBY', heldKey, 1)
      remaining = remaining - 1
      free = free + 1
      has = has - 1
    end
    if has <= 0 then redis.call('SREM', nonEmptyKey, taken) end
  end
end

local returned = 0
if free > 0 and remainingText and redis.call('ZCARD', queueKey) == 0 then
  giveUnits(nonEmptyKey, remainingKey, segmentPrefix, segment, free)
  redis.call('DECRBY', heldKey, free)
  returned = free
end
return {returned, offered, expiredNow}
