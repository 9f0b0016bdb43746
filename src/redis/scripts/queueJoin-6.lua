--[[
  queueJoin: give a person a place in an activity's waiting room, once. Atomic so that two joins
  of one person (a double click, two tabs) never hold two places: the second finds the first.

  KEYS[1] line       ZSET userId -> order score (the people waiting)
  KEYS[2] seen       ZSET userId -> last poll (ms)
  KEYS[3] admitted   ZSET userId -> pass expiry (ms)
  KEYS[4] tickets    HASH userId -> "joinedAtMs|admittedAtMs"
  KEYS[5] closed     HASH userId -> reason the ticket closed
  KEYS[6] counters   HASH joined, ...

  ARGV[1] userId
  ARGV[2] score      this arrival's place (random before the start in random mode, else the arrival time)
  ARGV[3] nowMs

  Returns {code}:
     0   joined now
     1   already waiting (the same ticket; this join counts as a poll)
     2   admitted, the pass still valid (the same ticket)
  A ticket closed for ABANDONED, PASS_EXPIRED or LEFT joins again, at the back.
]]
local lineKey = KEYS[1]
local seenKey = KEYS[2]
local admittedKey = KEYS[3]
local ticketsKey = KEYS[4]
local closedKey = KEYS[5]
local countersKey = KEYS[6]

local userId = ARGV[1]
local score = ARGV[2]
local nowMs = tonumber(ARGV[3])

if redis.call('ZSCORE', lineKey, userId) then
  redis.call('ZADD', seenKey, nowMs, userId)
  return {1}
end
local expiry = redis.call('ZSCORE', admittedKey, userId)
if expiry and tonumber(expiry) > nowMs then
  return {2}
end
redis.call('ZREM', admittedKey, userId)
redis.call('HDEL', closedKey, userId)
redis.call('ZADD', lineKey, score, userId)
redis.call('ZADD', seenKey, nowMs, userId)
redis.call('HSET', ticketsKey, userId, nowMs .. '|')
redis.call('HINCRBY', countersKey, 'joined', 1)
return {0}
