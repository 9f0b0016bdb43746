--[[
  release: undo one reservation that will not become an order (the Kafka publish failed, or MySQL
  refused the order). The reservation entry is the idempotency token: only the call that deletes
  it gives anything back, so a retried or redelivered release never returns units twice.

  KEYS[1] nonEmpty
  KEYS[2] remaining
  KEYS[3] userUnits
  KEYS[4] reservations
  KEYS[5] answer        the stored answer for (user, requestId)
  KEYS[6] pending       hash orderId -> ...: reservations whose publish is not confirmed

  ARGV[1] segmentPrefix
  ARGV[2] segment        which segment receives the units back
  ARGV[3] orderId
  ARGV[4] quantity
  ARGV[5] returnStock    1: the units go back on sale; 0: they are gone (MySQL had none to give)
  ARGV[6] forgetAnswer   1: the client was never told 202 (the publish surely failed): a pending
                         answer is deleted, so a retry of the requestId starts afresh;
                         0: the order id stands (it has, or will have, a FAILED row): a pending
                         answer becomes "O:<orderId>", so replays are told that id

  Returns 1 when released now, 0 when it had already been released or settled.
]]
--- @include "includes/giveUnits"
--- @include "includes/releaseUserUnits"

local nonEmptyKey = KEYS[1]
local remainingKey = KEYS[2]
local userUnitsKey = KEYS[3]
local reservationsKey = KEYS[4]
local answerKey = KEYS[5]
local pendingKey = KEYS[6]

local segmentPrefix = ARGV[1]
local segment = ARGV[2]
local orderId = ARGV[3]
local quantity = tonumber(ARGV[4])
local returnStock = ARGV[5] == '1'
local forgetAnswer = ARGV[6] == '1'

local released = redis.call('HDEL', reservationsKey, orderId) == 1

-- The pending mark and answer are resolved whether or not this call releases the units: a
-- reservation settled by the worker can still carry a pending answer its API process never
-- confirmed. Only a release that really gives the reservation back may forget the answer: a
-- settled one became an order, and its id stands.
redis.call('HDEL', pendingKey, orderId)
if redis.call('GET', answerKey) == 'P:' .. orderId then
  if forgetAnswer and released then
    redis.call('DEL', answerKey)
  else
    redis.call('SET', answerKey, 'O:' .. orderId, 'KEEPTTL')
  end
end

if not released then
  return 0
end

if returnStock and redis.call('EXISTS', remainingKey) == 1 then
  giveUnits(nonEmptyKey, remainingKey, segmentPrefix, segment, quantity)
end
releaseUserUnits(userUnitsKey, quantity)
return 1
