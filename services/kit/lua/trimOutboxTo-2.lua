--[[
  Drops the outbox records whose sequence number is below ARGV[1] (see readOutbox-2.lua) and
  raises the head's sequence number to it, atomically. Idempotent and monotonic: a second
  relay (a zombie instance during a rebalance) that trimmed already, or trims later with an
  older bound, changes nothing. The relay calls it only for records Kafka has (committed).

  KEYS[1]  outbox list
  KEYS[2]  relay state hash (`base`)
  ARGV[1]  the new sequence number of the head: every record below it is dropped

  Never drops more records than the list holds, so sequence numbers stay those of the records.

  Returns the number of records dropped.
]]
local base = tonumber(redis.call('HGET', KEYS[2], 'base') or '0')
local upTo = tonumber(ARGV[1])
if upTo <= base then
  return 0
end
local count = upTo - base
local length = redis.call('LLEN', KEYS[1])
if count > length then
  count = length
end
redis.call('LTRIM', KEYS[1], count, -1)
redis.call('HINCRBY', KEYS[2], 'base', count)
return count
