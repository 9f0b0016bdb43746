--[[
  recordReservation(r): the bookkeeping of a reservation made on this shard, the same whichever way
  its units came (open sale, a waitlist offer, a transfer from shard 0):
    - the user's unit count (the per-user limit), kept as long as the answer;
    - the reservation entry the order worker settles ("userId|quantity|reservedAtMs|requestId");
    - the pending mark ("reservedAtMs|userId|requestId") and the stored answer "P:<orderId>": until
      confirm-2.lua runs, a replay is not told 202 for an order whose publish may still fail;
    - the user's latest order id (my-order while the order is QUEUED).

  r = {userUnitsKey, reservationsKey, pendingKey, answerKey, lastOrderKey,
       orderId, userId, requestId, quantity, nowMs, ttlSeconds}
]]
local function recordReservation(r)
  redis.call('INCRBY', r.userUnitsKey, r.quantity)
  redis.call('EXPIRE', r.userUnitsKey, r.ttlSeconds)
  redis.call('HSET', r.reservationsKey, r.orderId, r.userId .. '|' .. r.quantity .. '|' .. r.nowMs .. '|' .. r.requestId)
  redis.call('HSET', r.pendingKey, r.orderId, r.nowMs .. '|' .. r.userId .. '|' .. r.requestId)
  redis.call('SET', r.answerKey, 'P:' .. r.orderId, 'EX', r.ttlSeconds)
  redis.call('SET', r.lastOrderKey, r.orderId, 'EX', r.ttlSeconds)
end
