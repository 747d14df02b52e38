--[[
  Reads the head of a partition's outbox with the sequence number of its first record, for the
  outbox relay (outbox-relay.ts). Every record appended to the outbox gets the next sequence
  number of the partition implicitly: the relay state keeps `base`, the sequence number of the
  head, and trimOutboxTo-2.lua raises it by the number of records it drops, in the same call.
  So the record at index i has sequence number base + i, without the scripts that append
  (applyPartitionChange, finishTrigger) knowing about it.

  `inc` names this outbox's incarnation: the relay stores it with its Kafka checkpoint, so a
  checkpoint written for an outbox that was since lost (Redis flushed, state reset) is not
  taken for this one's. It is set on the first read.

  KEYS[1]  outbox list
  KEYS[2]  relay state hash: `base` (sequence number of the head, default 0), `inc`
  ARGV[1]  how many records to read at most
  ARGV[2]  the incarnation to record if there is none yet

  Returns {base, inc, record 1, record 2, ...}.
]]
local inc = redis.call('HGET', KEYS[2], 'inc')
if not inc then
  inc = ARGV[2]
  redis.call('HSET', KEYS[2], 'inc', inc)
end
local base = redis.call('HGET', KEYS[2], 'base') or '0'
local result = {base, inc}
local records = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
for i = 1, #records do
  result[i + 2] = records[i]
end
return result
