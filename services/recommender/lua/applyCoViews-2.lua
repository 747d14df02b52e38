--[[
  Adds one consumed batch's "viewed together" counts to one product's neighbors, once, and
  keeps only its top neighbors. Both keys carry the product's own hash tag, so every product
  lives in its own slot and co-view writes spread over a Redis Cluster.

  Exactly once, like applyPopularity: the marks hash remembers per source
  (`<topic>:<partition>`) the last batch offset applied to this product.

  KEYS[1]  neighbors sorted set: other product -> times viewed together
  KEYS[2]  marks hash: field `<topic>:<partition>` = last applied batch offset

  ARGV[1]  mark field (`<topic>:<partition>`)
  ARGV[2]  this batch's offset (the last offset it covers)
  ARGV[3]  TTL in ms of both keys (a product nobody views together any more expires)
  ARGV[4]  most neighbors kept (the lowest counts are trimmed)
  ARGV[5]  JSON: the increments, [[other product, increment (a string)], ...] (built by
           applyCoViewsArgs)

  Returns 1 when applied, 0 when the batch had been applied already.
]]
--@include "toInteger"

local neighbors, marks = KEYS[1], KEYS[2]
local field, offset = ARGV[1], toInteger(ARGV[2], -1)
if toInteger(redis.call('HGET', marks, field), -1) >= offset then
  return 0
end

for _, pair in ipairs(cjson.decode(ARGV[5])) do
  redis.call('ZINCRBY', neighbors, pair[2], pair[1])
end
local keep = toInteger(ARGV[4], 1)
if redis.call('ZCARD', neighbors) > keep then
  redis.call('ZREMRANGEBYRANK', neighbors, 0, -(keep + 1))
end

redis.call('HSET', marks, field, ARGV[2])
redis.call('PEXPIRE', neighbors, ARGV[3])
redis.call('PEXPIRE', marks, ARGV[3])
return 1
