--[[
  throttle: one attempt against a GCRA rate limit (a token bucket expressed as the "theoretical
  arrival time" of the next request), shared by every instance. Time comes from the Redis server
  (TIME), so instances with skewed clocks still agree; a refused attempt changes nothing.

  KEYS[1] tatKey        the key's theoretical arrival time, in ms (string); expires when idle

  ARGV[1] intervalMs    emission interval: 1000 / rate per second
  ARGV[2] burst         attempts allowed at once from a full bucket (>= 1)

  Returns {allowed, waitMs}:
     1, 0        allowed (and counted)
     0, waitMs   refused; the next attempt is allowed in waitMs milliseconds (> 0)
]]
local tatKey = KEYS[1]

local intervalMs = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])

local time = redis.call('TIME')
local nowMs = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)

local tat = tonumber(redis.call('GET', tatKey) or '0')
if tat < nowMs then
  tat = nowMs
end
local newTat = tat + intervalMs
local allowAt = newTat - intervalMs * burst
if nowMs < allowAt then
  return {0, math.ceil(allowAt - nowMs)}
end
redis.call('SET', tatKey, tostring(newTat), 'PX', math.max(1, math.ceil(newTat - nowMs)))
return {1, 0}
