--[[
  takeChallenge: consume an anti-bot challenge, atomically, only if it belongs to the caller.
  A challenge is single-use: the call that takes it deletes it, so a replayed or concurrent
  second use finds nothing. Someone else's challenge is left alone (guessing an id must not let
  one user burn another's proof of work).

  KEYS[1] challengeKey   "userId|prefix|difficulty|expiresAtMs" (PX-expiring)

  ARGV[1] userId         the caller (from the JWT)

  Returns {code, value}:
     1, "prefix|difficulty|expiresAtMs"   taken now (deleted)
    -1, ''                                 no such challenge (never issued, expired or already used)
    -2, ''                                 issued to another user (not deleted)
]]
local challengeKey = KEYS[1]
local userId = ARGV[1]

local stored = redis.call('GET', challengeKey)
if not stored then
  return {-1, ''}
end
local sep = string.find(stored, '|', 1, true)
if not sep or string.sub(stored, 1, sep - 1) ~= userId then
  return {-2, ''}
end
redis.call('DEL', challengeKey)
return {1, string.sub(stored, sep + 1)}
