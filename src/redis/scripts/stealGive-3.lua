--[[
  stealGive: the second half of a steal (see stealTake-5.lua). Runs on the RECEIVING shard and adds
  the units of one transfer at most once: the marker key is set first, so a retry, or a
  reconciliation completing a stranded transfer, never adds them twice. With void = 1 it only sets
  the marker: the transfer is cancelled, a late give finds the marker and adds nothing, and the
  units (dropped from transit by the caller) are counted again by the next load from MySQL.

  KEYS[1] nonEmpty
  KEYS[2] remaining
  KEYS[3] marker        set once per transfer id

  ARGV[1] segmentPrefix
  ARGV[2] segment       which segment receives the units
  ARGV[3] units
  ARGV[4] markerTtlSeconds
  ARGV[5] void          '1': only void the transfer

  Returns {code, remaining}:
     1  given now (remaining = this shard's open-sale units after)
     2  voided now
     0  the transfer was already given or voided: nothing changed
    -3  this shard is not loaded: the transfer is voided (a load recounts its units)
]]
--- @include "includes/giveUnits"

local nonEmptyKey = KEYS[1]
local remainingKey = KEYS[2]
local markerKey = KEYS[3]

local segmentPrefix = ARGV[1]
local segment = ARGV[2]
local units = tonumber(ARGV[3])
local markerTtl = tonumber(ARGV[4])
local void = ARGV[5] == '1'

if not redis.call('SET', markerKey, '1', 'NX', 'EX', markerTtl) then
  return {0, tonumber(redis.call('GET', remainingKey) or '0')}
end
if void then
  return {2, tonumber(redis.call('GET', remainingKey) or '0')}
end
if redis.call('EXISTS', remainingKey) == 0 then
  return {-3, 0}
end
return {1, giveUnits(nonEmptyKey, remainingKey, segmentPrefix, segment, units)}
