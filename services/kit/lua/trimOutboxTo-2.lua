--[[
  Drops the outbox records whose sequence number is below ARGV[1] (see readOutbox-4.lua) and
  raises the head's sequence number to it, atomically (trimOutboxHead). Idempotent and
  monotonic: a second relay (a zombie instance during a rebalance) that trimmed already, or
  trims later with an older bound, changes nothing. The relay calls it only for records Kafka
  has (committed); the exactly_once relay's usual trim rides on its next read instead
  (readOutbox-4.lua's ARGV[7]).

  KEYS[1]  outbox list
  KEYS[2]  relay state hash (`base`, `inc`)
  ARGV[1]  the new sequence number of the head: every record below it is dropped
  ARGV[2]  the outbox incarnation the records were read from (optional): when given and the
           relay state's `inc` is another, nothing is dropped (that outbox is gone)

  Returns the number of records dropped.
]]
--@include "trimOutboxHead"
return trimOutboxHead(KEYS[1], KEYS[2], tonumber(ARGV[1]), ARGV[2] or '')
