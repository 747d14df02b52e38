--[[
  Adds one consumed batch's popularity weights to the daily popularity buckets, once. All keys
  share the popularity hash tag, so this is one slot on a Redis Cluster.

  Exactly once: the marks hash remembers, per source (`<topic>:<partition>`), the last batch
  offset applied. Batches of one partition are applied in offset order, so a batch at or
  below the mark (a replayed outbox record, a second relay during a rebalance) was applied
  already and changes nothing.

  KEYS[1]          marks hash: field `<topic>:<partition>` = last applied batch offset
  KEYS[2 .. 1+d]   day buckets (sorted sets: product -> weight of that UTC day)

  ARGV[1]          mark field (`<topic>:<partition>`)
  ARGV[2]          this batch's offset (the last offset it covers)
  ARGV[3]          marks hash TTL in ms
  ARGV[4]          most products kept per day bucket (the lowest scores are trimmed)
  then, for each of the d day buckets in KEYS order: expire-at (epoch ms), n, and n pairs
  product, weight

  Returns 1 when applied, 0 when the batch had been applied already.
]]
--@include "toInteger"

local marks = KEYS[1]
local field, offset = ARGV[1], toInteger(ARGV[2], -1)
if toInteger(redis.call('HGET', marks, field), -1) >= offset then
  return 0
end

local keep = toInteger(ARGV[4], 1)
local i = 5
for day = 2, #KEYS do
  local bucket = KEYS[day]
  local expireAt, n = ARGV[i], toInteger(ARGV[i + 1], 0)
  for pair = 0, n - 1 do
    redis.call('ZINCRBY', bucket, ARGV[i + 3 + 2 * pair], ARGV[i + 2 + 2 * pair])
  end
  if redis.call('ZCARD', bucket) > keep then
    redis.call('ZREMRANGEBYRANK', bucket, 0, -(keep + 1))
  end
  redis.call('PEXPIREAT', bucket, expireAt)
  i = i + 2 + 2 * n
end

redis.call('HSET', marks, field, ARGV[2])
redis.call('PEXPIRE', marks, ARGV[3])
return 1
