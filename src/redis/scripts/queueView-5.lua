--[[
  queueView: one person's ticket on their home shard, and (touch = 1) the poll that keeps their
  place: a waiting person who stops asking is dropped after keepSeconds (queueSweep).

  KEYS[1] line       ZSET userId -> order score
  KEYS[2] seen       ZSET userId -> last poll (ms)
  KEYS[3] admitted   ZSET userId -> pass expiry (ms)
  KEYS[4] tickets    HASH userId -> "joinedAtMs|admittedAtMs"
  KEYS[5] closed     HASH userId -> reason

  ARGV[1] userId
  ARGV[2] nowMs
  ARGV[3] touch      1: count this read as a heartbeat

  Returns {state, ...}:
     1, ahead, shardWaiting, ticket   waiting: people ahead on this shard, people waiting on this shard
     2, passExpiresAtMs, ticket       admitted
     3, reason, ticket                closed (PASS_EXPIRED when the pass ran out and no sweep closed it yet)
     0                                no ticket
]]
local lineKey = KEYS[1]
local seenKey = KEYS[2]
local admittedKey = KEYS[3]
local ticketsKey = KEYS[4]
local closedKey = KEYS[5]

local userId = ARGV[1]
local nowMs = tonumber(ARGV[2])
local touch = ARGV[3] == '1'

local ticket = redis.call('HGET', ticketsKey, userId) or ''
local rank = redis.call('ZRANK', lineKey, userId)
if rank then
  if touch then
    redis.call('ZADD', seenKey, 'XX', nowMs, userId)
  end
  return {1, rank, redis.call('ZCARD', lineKey), ticket}
end
local expiry = redis.call('ZSCORE', admittedKey, userId)
if expiry then
  if tonumber(expiry) > nowMs then
    return {2, expiry, ticket}
  end
  return {3, 'PASS_EXPIRED', ticket}
end
local reason = redis.call('HGET', closedKey, userId)
if reason then
  return {3, reason, ticket}
end
return {0}
