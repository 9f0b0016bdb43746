--[[
  queueBucket: take up to `want` admissions from an activity's token bucket, refilled at `rate` per
  second up to `burst`. Time comes from the Redis server (TIME), so whichever process admits —
  the leader, or a new leader after a failover, or two for a moment — the activity's rate is the
  bucket's, never multiplied by the number of processes.

  KEYS[1] bucket   HASH tokens, atMs

  ARGV[1] rate     tokens per second (> 0)
  ARGV[2] burst    the most tokens the bucket holds
  ARGV[3] want     tokens asked for

  Returns the number of tokens granted (0..want).
]]
local bucketKey = KEYS[1]

local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[3])

local time = redis.call('TIME')
local nowMs = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local state = redis.call('HMGET', bucketKey, 'tokens', 'atMs')
local tokens = tonumber(state[1])
local atMs = tonumber(state[2])
if not tokens or not atMs then
  tokens = 0
  atMs = nowMs
end
if nowMs > atMs then
  tokens = math.min(burst, tokens + (nowMs - atMs) * rate / 1000)
end
local granted = math.min(want, math.floor(tokens))
if granted < 0 then
  granted = 0
end
tokens = tokens - granted
redis.call('HSET', bucketKey, 'tokens', tostring(tokens), 'atMs', nowMs)
redis.call('PEXPIRE', bucketKey, 3600000)
return granted
