--[[
  queueAdmit: admit the first people of this shard's line, up to a score and a count the admission
  leader chose by merging every shard's head (so the activity's order holds across shards). Each
  admitted person leaves the line and gets a pass expiry; one script, so a person is never both
  waiting and admitted, nor admitted twice.

  KEYS[1] line       ZSET userId -> order score
  KEYS[2] seen       ZSET userId -> last poll (ms)
  KEYS[3] admitted   ZSET userId -> pass expiry (ms)
  KEYS[4] tickets    HASH userId -> "joinedAtMs|admittedAtMs"
  KEYS[5] counters   HASH admitted, ...

  ARGV[1] maxScore   admit no one placed after this score
  ARGV[2] limit      admit at most this many
  ARGV[3] nowMs
  ARGV[4] passMs     how long a pass lasts

  Returns a flat list {userId, joinedAtMs, ...} of the people admitted now.
]]
local lineKey = KEYS[1]
local seenKey = KEYS[2]
local admittedKey = KEYS[3]
local ticketsKey = KEYS[4]
local countersKey = KEYS[5]

local maxScore = ARGV[1]
local limit = tonumber(ARGV[2])
local nowMs = tonumber(ARGV[3])
local passMs = tonumber(ARGV[4])

local out = {}
if limit <= 0 then
  return out
end
local heads = redis.call('ZRANGEBYSCORE', lineKey, '-inf', maxScore, 'LIMIT', 0, limit)
for _, userId in ipairs(heads) do
  redis.call('ZREM', lineKey, userId)
  redis.call('ZREM', seenKey, userId)
  redis.call('ZADD', admittedKey, nowMs + passMs, userId)
  local ticket = redis.call('HGET', ticketsKey, userId) or ''
  local joinedAt = string.match(ticket, '^(%d+)') or tostring(nowMs)
  redis.call('HSET', ticketsKey, userId, joinedAt .. '|' .. nowMs)
  out[#out + 1] = userId
  out[#out + 1] = joinedAt
end
if #heads > 0 then
  redis.call('HINCRBY', countersKey, 'admitted', #heads)
end
return out
