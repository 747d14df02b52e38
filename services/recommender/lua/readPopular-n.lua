--[[
  The most popular products over the last days: the day buckets summed with decay weights
  (ZUNIONSTORE), cached for a short while so that reads stay cheap under load. All keys share
  the popularity hash tag.

  KEYS[1]          the cached union (sorted set), named after the newest day it covers
  KEYS[2 .. 1+d]   day buckets, newest first

  ARGV[1]          cache TTL in ms; 0 rebuilds the union on every call (tests, tiny shops)
  ARGV[2]          most products kept in the cached union
  ARGV[3]          how many to return
  ARGV[4 .. 3+d]   the weight of each day bucket, in KEYS order

  Returns a flat list: product, score, product, score, ... best first.
]]
--@include "toInteger"

local cache = KEYS[1]
local ttl = toInteger(ARGV[1], 0)
if ttl <= 0 or redis.call('EXISTS', cache) == 0 then
  local days = #KEYS - 1
  local args = { cache, days }
  for day = 1, days do
    args[#args + 1] = KEYS[1 + day]
  end
  args[#args + 1] = 'WEIGHTS'
  for day = 1, days do
    args[#args + 1] = ARGV[3 + day]
  end
  redis.call('ZUNIONSTORE', unpack(args))
  local keep = toInteger(ARGV[2], 1)
  if redis.call('ZCARD', cache) > keep then
    redis.call('ZREMRANGEBYRANK', cache, 0, -(keep + 1))
  end
  if ttl > 0 then
    redis.call('PEXPIRE', cache, ttl)
  end
end

local limit = toInteger(ARGV[3], 1)
local top = redis.call('ZREVRANGE', cache, 0, limit - 1, 'WITHSCORES')
if ttl <= 0 then
  redis.call('DEL', cache)
end
return top
