--[[
  Counts one SES event for the deliverability guard, once: a send, a hard bounce or a
  complaint of one campaign goes into that campaign's bucket of the event's UTC day, unless
  this SES event was counted before (SNS may deliver it again, under a new MessageId).
  Returns the window's totals, which the tracker hands to the pure guard decision.

  KEYS[1]  the campaign's counters: hash `s:<day>`, `b:<day>`, `c:<day>` -> count
  KEYS[2]  the event's "counted" marker (string)

  ARGV[1]  what to count: s (send), b (hard bounce) or c (complaint)
  ARGV[2]  the event's UTC day number
  ARGV[3]  the window in days (the buckets summed: day - window + 1 .. day)
  ARGV[4]  how long the marker is kept (ms); 0 = no marker (sends: one per email, a rare
           double count only lowers the rates, and a marker per send would cost a key per email)
  ARGV[5]  how long the counters live after their last change (ms)

  Returns {counted (1, or 0 for a repeat), sends, bounces, complaints} over the window.
]]
--@include "toInteger"
local day = toInteger(ARGV[2], 0)
local window = toInteger(ARGV[3], 7)
local counted = 0
local markerMs = toInteger(ARGV[4], 86400000)
if markerMs <= 0 or redis.call('SET', KEYS[2], '1', 'NX', 'PX', markerMs) then
  redis.call('HINCRBY', KEYS[1], ARGV[1] .. ':' .. day, 1)
  redis.call('PEXPIRE', KEYS[1], toInteger(ARGV[5], 8 * 86400000))
  counted = 1
end
local totals = {s = 0, b = 0, c = 0}
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  local kind, bucket = string.match(fields[i], '^(%a):(%d+)$')
  local n = tonumber(bucket)
  if kind and n then
    if n <= day - window then
      redis.call('HDEL', KEYS[1], fields[i])
    elseif n <= day and totals[kind] then
      totals[kind] = totals[kind] + tonumber(fields[i + 1])
    end
  end
end
return {counted, totals.s, totals.b, totals.c}
