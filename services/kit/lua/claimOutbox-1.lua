--[[
  Claims a partition's outbox for a relay (exactly_once, outbox-relay.ts): records the relay's
  transactional id as the partition's owner and returns the owner it replaces. The caller then
  fences that producer (initializes its transactional id, which aborts its open transaction and
  bumps its epoch) before it reads the checkpoint, and a relay reads the outbox only while it is
  the owner (readOutbox-4.lua). So a transaction of the old owner either completed before the
  new owner read the checkpoint, or never commits.

  KEYS[1]  relay state hash (`owner`)
  ARGV[1]  the claiming relay's transactional id

  Returns the previous owner, or "" when there was none.
]]
local previous = redis.call('HGET', KEYS[1], 'owner') or ''
redis.call('HSET', KEYS[1], 'owner', ARGV[1])
return previous
