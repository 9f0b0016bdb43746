--[[
  queueSweep: keep the line moving. People silent past the keep time leave the line (ABANDONED),
  so admission never waits behind them; passes that ran out unused close (PASS_EXPIRED). Bounded
  per call; the leader calls it every tick, so a backlog clears over a few ticks.

  KEYS[1] line       ZSET userId -> order score
  KEYS[2] seen       ZSET userId -> last poll (ms)
  KEYS[3] admitted   ZSET userId -> pass expiry (ms)
  KEYS[4] closed     HASH userId -> reason
  KEYS[5] counters   HASH abandoned, expired, ...

  ARGV[1] silentBeforeMs   a last poll before this is a place abandoned
  ARGV[2] nowMs
  ARGV[3] limit            at most this many of each kind per call

  Returns {abandoned, expired, waiting, outstandingPasses}.
]]
local lineKey = KEYS[1]
local seenKey = KEYS[2]
local admittedKey = KEYS[3]
local closedKey = KEYS[4]
local countersKey = KEYS[5]

local silentBeforeMs = tonumber(ARGV[1])
local nowMs = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])

local silent = redis.call('ZRANGEBYSCORE', seenKey, '-inf', '(' .. silentBeforeMs, 'LIMIT', 0, limit)
for _, userId in ipairs(silent) do
  redis.call('ZREM', lineKey, userId)
  redis.call('ZREM', seenKey, userId)
  redis.call('HSET', closedKey, userId, 'ABANDONED')
end
if #silent > 0 then
  redis.call('HINCRBY', countersKey, 'abandoned', #silent)
end
local expired = redis.call('ZRANGEBYSCORE', admittedKey, '-inf', nowMs, 'LIMIT', 0, limit)
for _, userId in ipairs(expired) do
  redis.call('ZREM', admittedKey, userId)
  redis.call('HSET', closedKey, userId, 'PASS_EXPIRED')
end
if #expired > 0 then
  redis.call('HINCRBY', countersKey, 'expired', #expired)
end
return {#silent, #expired, redis.call('ZCARD', lineKey), redis.call('ZCARD', admittedKey)}
