--[[
  Keeps the renderer's copy of a customer's profile (customer.profiles is compacted and may be
  replayed or arrive out of order across partitions' rebalances): the stored profile is
  replaced only by one at least as new, so a replay of an older record changes nothing.

  KEYS[1]  customer hash: field `p` = profile JSON, `pu` = its updated_at (ms), `u` = unsubscribed at (ms)

  ARGV[1]  the profile's updated_at (ms)
  ARGV[2]  the profile as JSON

  Returns 1 when stored, 0 when the stored profile is newer.
]]
--@include "toInteger"
local stored = toInteger(redis.call('HGET', KEYS[1], 'pu'), -1)
local updatedAt = toInteger(ARGV[1], 0)
if stored > updatedAt then
  return 0
end
redis.call('HSET', KEYS[1], 'p', ARGV[2], 'pu', updatedAt)
return 1
