--[[
  lease: extend or drop a lease only while the caller still owns it (compare-and-extend), so a
  process that stalled past its lease never takes the key back from whoever leased it meanwhile.

  KEYS[1] lease key
  ARGV[1] owner     the value the caller wrote with SET NX
  ARGV[2] ttlMs     > 0: extend to this many ms; 0: delete

  Returns 1 when the caller owned the lease (and it was extended or dropped) or took back a lease
  that had vanished; 0 when someone else holds it (the caller must stop using the id).
]]
local leaseKey = KEYS[1]
local owner = ARGV[1]
local ttlMs = tonumber(ARGV[2])

local holder = redis.call('GET', leaseKey)
if holder == false and ttlMs > 0 then
  -- Lost with a Redis wipe or a failover, and nobody took it meanwhile: take it back, or the next
  -- process to start could lease this id while we still make ids with it.
  redis.call('SET', leaseKey, owner, 'PX', ttlMs)
  return 1
end
if holder ~= owner then
  return 0
end
if ttlMs > 0 then
  redis.call('PEXPIRE', leaseKey, ttlMs)
else
  redis.call('DEL', leaseKey)
end
return 1
