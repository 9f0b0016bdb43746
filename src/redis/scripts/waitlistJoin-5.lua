--[[
  waitlistJoin: put a user on an activity's waitlist, only while it is sold out. Atomic so that a
  unit returning between "is it sold out?" and "add me" cannot leave a user queued for nothing.

  KEYS[1] remaining   open-sale units
  KEYS[2] queue       ZSET userId -> join sequence
  KEYS[3] seq         join counter
  KEYS[4] offers      HASH userId -> offer expiry (epoch ms)
  KEYS[5] expired     SET of users whose offer ran out

  ARGV[1] userId
  ARGV[2] nowMs

  Returns {code, value}:
     1, position   waiting (joined now, or already waiting: joining twice returns the same entry)
     2, expiresAt  the user already holds an unexpired offer
    -1, 0          NOT_SOLD_OUT: units are on open sale
    -3, 0          the activity is not loaded in Redis
]]
local remainingKey = KEYS[1]
local queueKey = KEYS[2]
local seqKey = KEYS[3]
local offersKey = KEYS[4]
local expiredKey = KEYS[5]

local userId = ARGV[1]
local nowMs = tonumber(ARGV[2])

local rank = redis.call('ZRANK', queueKey, userId)
if rank then
  return {1, rank + 1}
end
local offer = redis.call('HGET', offersKey, userId)
if offer and tonumber(offer) > nowMs then
  return {2, tonumber(offer)}
end
local remaining = redis.call('GET', remainingKey)
if not remaining then
  return {-3, 0}
end
if tonumber(remaining) > 0 then
  return {-1, 0}
end
redis.call('ZADD', queueKey, redis.call('INCR', seqKey), userId)
redis.call('SREM', expiredKey, userId)
redis.call('HDEL', offersKey, userId)
return {1, redis.call('ZRANK', queueKey, userId) + 1}
