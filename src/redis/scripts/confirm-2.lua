--[[
  confirm: a reservation's Kafka publish is settled (acknowledged, or unknown and answered 202
  anyway): from now on a replay of its requestId is told 202 with this order id. Until then the
  stored answer reads "P:<orderId>" and a replay gets 503 (or waits on the same instance), so no
  client is ever told 202 for an order whose publish then fails and is released.

  KEYS[1] answer    the stored answer for (user, requestId)
  KEYS[2] pending   hash orderId -> "reservedAtMs|userId|requestId"

  ARGV[1] orderId

  Returns 1 when the answer turned from pending to "O:<orderId>", 0 when it was not pending.
]]
local answerKey = KEYS[1]
local pendingKey = KEYS[2]
local orderId = ARGV[1]

redis.call('HDEL', pendingKey, orderId)
if redis.call('GET', answerKey) == 'P:' .. orderId then
  redis.call('SET', answerKey, 'O:' .. orderId, 'KEEPTTL')
  return 1
end
return 0
