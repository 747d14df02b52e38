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
  ARGV[5]          JSON: one entry per day bucket, in KEYS order (built by applyPopularityArgs),
                   each an array of the bucket's expire-at (epoch ms) and its list of
                   [product, weight] pairs; numbers as strings

  Returns 1 when applied, 0 when the batch had been applied already.
]]
--@include "toInteger"

local marks = KEYS[1]
local field, offset = ARGV[1], toInteger(ARGV[2], -1)
if toInteger(redis.call('HGET', marks, field), -1) >= offset then
  return 0
end

local keep = toInteger(ARGV[4], 1)
local buckets = cjson.decode(ARGV[5])
for day = 2, #KEYS do
  local bucket, entry = KEYS[day], buckets[day - 1]
  for _, pair in ipairs(entry[2]) do
    redis.call('ZINCRBY', bucket, pair[2], pair[1])
  end
  if redis.call('ZCARD', bucket) > keep then
    redis.call('ZREMRANGEBYRANK', bucket, 0, -(keep + 1))
  end
  redis.call('PEXPIREAT', bucket, entry[1])
end

redis.call('HSET', marks, field, ARGV[2])
redis.call('PEXPIRE', marks, ARGV[3])
return 1
