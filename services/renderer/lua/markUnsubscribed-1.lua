--[[
  Records that a customer unsubscribed (an `unsubscribe` behavior event). Keeps the latest
  time, so replays and out-of-order events are harmless. A profile that is newer than this
  time and grants email consent again counts as a re-subscription (decided by the renderer).

  KEYS[1]  customer hash (see storeProfile-1.lua); field `u` = unsubscribed at (ms)

  ARGV[1]  the unsubscribe event's occurred_at (ms)

  Returns 1 when the stored time moved forward, 0 when it was already as late.
]]
--@include "toInteger"
local stored = toInteger(redis.call('HGET', KEYS[1], 'u'), -1)
local at = toInteger(ARGV[1], 0)
if stored >= at then
  return 0
end
redis.call('HSET', KEYS[1], 'u', at)
return 1
