--[[
  Removes the first `count` records of a partition's outbox after the relay produced them,
  but only if the head is still the record the relay read first: a second relay (a zombie
  instance during a rebalance) that trimmed meanwhile must not make this one drop unsent ones.

  KEYS[1]  outbox list
  ARGV[1]  count of records produced
  ARGV[2]  the first record the relay read (the head it produced from)

  Returns the number of records removed (0 when the head had changed).
]]
local head = redis.call('LINDEX', KEYS[1], 0)
if head ~= ARGV[2] then
  return 0
end
redis.call('LTRIM', KEYS[1], tonumber(ARGV[1]), -1)
return tonumber(ARGV[1])
