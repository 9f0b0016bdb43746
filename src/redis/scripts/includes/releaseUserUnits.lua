--[[
  releaseUserUnits(userUnitsKey, units): the user no longer holds `units` in the activity (a released
  reservation, a cancelled order), so they count no more against the per-user limit. The count
  never goes below zero: a count Redis lost (and rebuilt lower) is dropped, not made negative.
]]
local function releaseUserUnits(userUnitsKey, units)
  if tonumber(redis.call('GET', userUnitsKey) or '0') > units then
    redis.call('DECRBY', userUnitsKey, units)
  else
    redis.call('DEL', userUnitsKey)
  end
end
