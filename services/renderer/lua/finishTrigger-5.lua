--[[
  Records what became of a trigger and queues its EmailOutcome, in one atomic step: the ledger
  moves to the new state (sent, suppressed, skipped, failed or deferred), the encoded outcome
  joins the partition's outbox (relayed to email.outcomes, then trimmed), and the trigger's
  deferred-send timer is set (deferred) or removed (any other state). A failed send leaves the
  customer's recent sends, since it never went out.

  KEYS[1]  ledger hash of the trigger (see reserveSend-4.lua)
  KEYS[2]  the partition's outbox list
  KEYS[3]  the partition's deferred-send timers sorted set
  KEYS[4]  the customer's recent sends sorted set
  KEYS[5]  the partition's state marker (its value: the state's incarnation)

  ARGV[1]  trigger_id
  ARGV[2]  the states the ledger may be in now, comma-separated; "-" stands for "no entry"
  ARGV[3]  the new state
  ARGV[4]  campaign ("" for none)
  ARGV[5]  variant ("" for none)
  ARGV[6]  SES message id ("" for none)
  ARGV[7]  reason
  ARGV[8]  at (ms)
  ARGV[9]  ledger TTL (ms)
  ARGV[10] the encoded outbox record (the EmailOutcome)
  ARGV[11] deferred: when to try again (ms); otherwise ""
  ARGV[12] deferred: the trigger as JSON, kept for the timer; otherwise ""
  ARGV[13] a member to remove from the recent sends ("" for none)
  ARGV[14] the outcome's experiment tags as JSON (see reserveSend-4.lua); "" keeps the ledger's
  ARGV[15] the incarnation of the state the caller decided against

  Returns {1, previous state or ""} when recorded, {0, current state or ""} when the ledger
  was in a state not listed in ARGV[2] (someone else finished it: nothing written), {-1, ""}
  when the state marker no longer holds ARGV[15]: Redis lost the partition's state (or it was
  rebuilt) since the caller read it, so "no entry" proves nothing and nothing is written.
]]
if redis.call('GET', KEYS[5]) ~= ARGV[15] then
  return {-1, ''}
end
local current = redis.call('HGET', KEYS[1], 's')
local label = current or '-'
local allowed = false
for state in string.gmatch(ARGV[2], '[^,]+') do
  if state == label then
    allowed = true
  end
end
if not allowed then
  return {0, current or ''}
end
redis.call('HSET', KEYS[1], 's', ARGV[3], 'c', ARGV[4], 'v', ARGV[5], 'm', ARGV[6], 'r', ARGV[7], 'a', ARGV[8])
if ARGV[14] and ARGV[14] ~= '' then
  redis.call('HSET', KEYS[1], 'x', ARGV[14])
end
if ARGV[3] == 'deferred' then
  redis.call('HSET', KEYS[1], 'd', ARGV[11], 'tr', ARGV[12])
  redis.call('ZADD', KEYS[3], ARGV[11], ARGV[1])
else
  redis.call('HDEL', KEYS[1], 'd', 'tr')
  redis.call('ZREM', KEYS[3], ARGV[1])
end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[9]))
redis.call('RPUSH', KEYS[2], ARGV[10])
if ARGV[13] ~= '' then
  redis.call('ZREM', KEYS[4], ARGV[13])
end
return {1, current or ''}
