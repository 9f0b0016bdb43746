--[[
  waitlistTake: the first half of a waitlist claim on a sharded activity whose waitlist (shard 0)
  is not the buyer's home shard. Consumes the user's live offer and moves its held unit
  into shard 0's `transit` hash, exactly like stealTake-5.lua moves open units: it never creates a
  unit. claimGive-8.lua on the home shard then turns the unit into the user's reservation.

  KEYS[1] offers     HASH userId -> offer expiry (epoch ms)
  KEYS[2] held       units held for the waitlist
  KEYS[3] expired    SET of users whose offer ran out
  KEYS[4] transit    hash transferId -> "units|takenAtMs|toShard"
  KEYS[5] loading    set while a load recounts the activity from MySQL: nothing moves then

  ARGV[1] userId
  ARGV[2] transferId
  ARGV[3] nowMs
  ARGV[4] toShard

  Returns 1 when the offer was taken (one unit now in transit), 0 when the user has no live offer,
  -6 while a load is under way (the offer stays; ask again shortly).
]]
local offersKey = KEYS[1]
local heldKey = KEYS[2]
local expiredKey = KEYS[3]
local transitKey = KEYS[4]
local loadingKey = KEYS[5]

local userId = ARGV[1]
local transferId = ARGV[2]
local nowMs = ARGV[3]
local toShard = ARGV[4]

local offer = redis.call('HGET', offersKey, userId)
if not offer or tonumber(offer) <= tonumber(nowMs) then
  return 0
end
if redis.call('EXISTS', loadingKey) == 1 then
  return -6
end
redis.call('HDEL', offersKey, userId)
redis.call('SREM', expiredKey, userId)
redis.call('DECRBY', heldKey, 1)
redis.call('HSET', transitKey, transferId, '1|' .. nowMs .. '|' .. toShard)
return 1
