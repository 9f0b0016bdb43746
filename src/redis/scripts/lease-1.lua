--[[
  lease: extend or drop a lease only while the caller still owns it (compare-and-extend), so a
  process that stalled past its lease never takes the key back from whoever leased it meanwhile.

  KEYS[1] lease key
  ARGV[1] owner     the value the caller wrote with SET NX
  ARGV[2] ttlMs     > 0: extend to this many ms; 0: delete

  Returns 1 when the caller owned the lease (and it was extended or dropped), 0 otherwise.
]]
local leaseKey = KEYS[1]
local owner = ARGV[1]
local ttlMs = tonumber(ARGV[2])

if redis.call('GET', leaseKey) ~= owner then
  return 0
end
if ttlMs > 0 then
  redis.call('PEXPIRE', leaseKey, ttlMs)
else
  redis.call('DEL', leaseKey)
end
return 1
