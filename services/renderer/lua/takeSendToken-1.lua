--[[
  The send-rate limit shared by every renderer instance: a sliding-window log of SES calls over
  the last window (1 s for SES's "maximum send rate"). A call is admitted only while fewer than
  `limit` calls were admitted in the window ending now, so no window of that length ever holds
  more. The clock is the Redis server's (TIME), so instances with skewed clocks agree.

  KEYS[1]  sorted set of admitted calls: member = a unique id, score = admission time (µs)

  ARGV[1]  limit: calls per window
  ARGV[2]  window (ms)
  ARGV[3]  a unique id for this call

  Returns {0, admittedAtMs} when admitted; {waitMs, 0} when not: try again after waitMs.
]]
local time = redis.call('TIME')
local nowUs = tonumber(time[1]) * 1000000 + tonumber(time[2])
local windowUs = tonumber(ARGV[2]) * 1000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', nowUs - windowUs)
local limit = tonumber(ARGV[1])
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], nowUs, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
  return {0, math.floor(nowUs / 1000)}
end
-- The oldest admission leaves the window at oldest + window; wait until just after that.
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local waitUs = tonumber(oldest[2]) + windowUs - nowUs
return {math.max(1, math.ceil(waitUs / 1000)), 0}
