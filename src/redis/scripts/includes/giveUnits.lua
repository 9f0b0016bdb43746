--[[
  giveUnits(nonEmptyKey, remainingKey, segmentPrefix, segment, units): puts `units` on open sale on
  this shard: into one segment (which joins the non-empty set, so the next reservation finds it)
  and into `remaining`, the sum the sold-out check reads. The two counters move together or not
  at all: the script runs whole.

  Returns `remaining` after.
]]
local function giveUnits(nonEmptyKey, remainingKey, segmentPrefix, segment, units)
  redis.call('INCRBY', segmentPrefix .. segment, units)
  redis.call('SADD', nonEmptyKey, segment)
  return redis.call('INCRBY', remainingKey, units)
end
