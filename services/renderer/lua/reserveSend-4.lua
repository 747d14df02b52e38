--[[
  Reserves the one send of a trigger before SES is called: the send ledger goes from "no entry"
  (or "deferred", when the quiet-hours timer fires) to "reserved", and the send joins the
  customer's recent sends, in one atomic step. The frequency cap is checked again here, against
  the same sorted set it is counted in, so two racing instances cannot both pass it.

  After a crash a "reserved" entry means: SES may or may not have taken the email. The renderer
  then asks its SentMailLookup before sending (docs/operations.md, "Renderer").

  KEYS[1]  ledger hash of the trigger: `s` state, `c` campaign, `v` variant, `a` at (ms), ...
  KEYS[2]  the customer's recent sends: sorted set, member "<campaign>|<trigger_id>", score = ms
  KEYS[3]  the partition's deferred-send timers: sorted set, member trigger_id, score = due ms
  KEYS[4]  the partition's state marker (its value: the state's incarnation)

  ARGV[1]  trigger_id
  ARGV[2]  now (ms)
  ARGV[3]  campaign
  ARGV[4]  variant ("" for none)
  ARGV[5]  frequency cap: max sends in the window
  ARGV[6]  frequency cap: window (ms)
  ARGV[7]  how long sends are remembered (ms): the longest cap window or cooldown
  ARGV[8]  ledger TTL (ms)
  ARGV[9]  "deferred" when a deferred entry may be taken over (the timer fired), else ""
  ARGV[10] why this campaign was chosen (kept for the outcome after a restart)
  ARGV[11] the outcome's experiment tags as JSON (experiment id, holdout, variables, segments),
           kept as `x` so a send resumed after a restart records the same arm
  ARGV[12] the incarnation of the state the caller decided against

  Returns {1, ""} when reserved; {0, state} when the ledger already holds `state` (not ours to
  send); {-1, count} when the frequency cap is reached (count sends in the window); {-2, ""}
  when the state marker no longer holds ARGV[12]: Redis lost the partition's state since the
  caller read it (nothing written; the email must not go out on a decision against it).
]]
--@include "toInteger"
if redis.call('GET', KEYS[4]) ~= ARGV[12] then
  return {-2, ''}
end
local state = redis.call('HGET', KEYS[1], 's')
if state and not (state == 'deferred' and ARGV[9] == 'deferred') then
  return {0, state}
end
local now = toInteger(ARGV[2], 0)
local window = toInteger(ARGV[6], 0)
local count = redis.call('ZCOUNT', KEYS[2], '(' .. (now - window), '+inf')
if count >= toInteger(ARGV[5], 0) then
  return {-1, tostring(count)}
end
local retention = toInteger(ARGV[7], window)
redis.call('HSET', KEYS[1], 's', 'reserved', 'c', ARGV[3], 'v', ARGV[4], 'a', now, 'r', ARGV[10], 'x', ARGV[11] or '')
redis.call('PEXPIRE', KEYS[1], toInteger(ARGV[8], 0))
redis.call('ZADD', KEYS[2], now, ARGV[3] .. '|' .. ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. (now - retention))
-- A customer's memory of sends is bounded by count as well as by time.
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -1001)
redis.call('PEXPIRE', KEYS[2], retention)
redis.call('ZREM', KEYS[3], ARGV[1])
return {1, ''}
