--[[
  Records that a customer took back an unsubscribe (a `resubscribe` behavior event, published
  by the tracker's preferences page). Keeps the latest time, so replays and out-of-order events
  are harmless; the renderer compares it with `u` (markUnsubscribed-1.lua): the later one wins.

  KEYS[1]  customer hash (see storeProfile-1.lua); field `r` = re-subscribed at (ms)

  ARGV[1]  the resubscribe event's occurred_at (ms)

  Returns 1 when the stored time moved forward, 0 when it was already as late.
]]
--@include "toInteger"
local stored = toInteger(redis.call('HGET', KEYS[1], 'r'), -1)
local at = toInteger(ARGV[1], 0)
if stored >= at then
  return 0
end
redis.call('HSET', KEYS[1], 'r', at)
return 1
