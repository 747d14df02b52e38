--[[
  Records when a customer unsubscribed (an `unsubscribe` behavior event) or took it back (a
  `resubscribe` event, from the tracker's preferences page). Keeps the latest time of each, so
  replays and out-of-order events are harmless; the renderer compares the two (the later one
  wins) and a newer profile that grants email consent again counts as a re-subscription too.

  KEYS[1]  customer hash (see storeProfile-1.lua)

  ARGV[1]  the field: `u` (unsubscribed at, ms) or `r` (re-subscribed at, ms)
  ARGV[2]  the event's occurred_at (ms)

  Returns 1 when the stored time moved forward, 0 when it was already as late.
]]
--@include "toInteger"
local field = ARGV[1]
if field ~= 'u' and field ~= 'r' then
  return redis.error_reply('markOptOutTime: field must be u or r, got ' .. tostring(field))
end
local stored = toInteger(redis.call('HGET', KEYS[1], field), -1)
local at = toInteger(ARGV[2], 0)
if stored >= at then
  return 0
end
redis.call('HSET', KEYS[1], field, at)
return 1
