--[[
  takeUnits(nonEmptyKey, remainingKey, segmentPrefix, units): takes `units` out of the shard's
  segments, each time from a random non-empty one (the set skips empty segments without a probe);
  a short segment gives what it has and the next one the rest, so a unit left in any segment can
  still be taken, and an emptied segment leaves the set. Then lowers `remaining` by `units`. The
  caller has checked that `remaining` covers `units`.

  Returns nil, or an error reply when the segments hold fewer units than `remaining` said: the
  counters disagree, and refusing is safer than overselling.
]]
local function takeUnits(nonEmptyKey, remainingKey, segmentPrefix, units)
  local needed = units
  while needed > 0 do
    local segment = redis.call('SRANDMEMBER', nonEmptyKey)
    if not segment then
      return redis.error_reply('ERR segments hold fewer units than remaining')
    end
    local segmentKey = segmentPrefix .. segment
    local has = tonumber(redis.call('GET', segmentKey) or '0')
    local take = math.min(has, needed)
    if take > 0 then
      redis.call('DECRBY', segmentKey, take)
      needed = needed - take
    end
    if has - take <= 0 then
      redis.call('SREM', nonEmptyKey, segment)
    end
  end
  redis.call('DECRBY', remainingKey, units)
end
