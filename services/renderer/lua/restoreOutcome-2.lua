--[[
  Restores one trigger's send ledger entry from its EmailOutcome (`state rebuild --service
  renderer`, after Redis lost the renderer's state): the entry takes the outcome's state and
  fields, and a send that went out (or a holdout's virtual send) joins the customer's recent
  sends, so cooldowns and frequency caps count it again. Outcomes are restored in log order:
  a later one of the same trigger replaces the earlier.

  KEYS[1]  ledger hash of the trigger (see reserveSend-4.lua)
  KEYS[2]  the customer's recent sends sorted set

  ARGV[1]  trigger_id
  ARGV[2]  state (sent, suppressed, skipped, failed)
  ARGV[3]  campaign ("" for none)
  ARGV[4]  variant ("" for none)
  ARGV[5]  SES message id ("" for none)
  ARGV[6]  reason
  ARGV[7]  at (ms)
  ARGV[8]  ledger TTL (ms), also how long the recent send is kept
  ARGV[9]  the outcome's experiment tags as JSON
  ARGV[10] "1" when it counts as a send, else ""
]]
--@include "toInteger"
local ttl = toInteger(ARGV[8], 0)
redis.call('HSET', KEYS[1], 's', ARGV[2], 'c', ARGV[3], 'v', ARGV[4], 'm', ARGV[5], 'r', ARGV[6], 'a', ARGV[7], 'x', ARGV[9])
redis.call('HDEL', KEYS[1], 'd', 'tr')
redis.call('PEXPIRE', KEYS[1], ttl)
if ARGV[10] == '1' then
  redis.call('ZADD', KEYS[2], toInteger(ARGV[7], 0), ARGV[3] .. '|' .. ARGV[1])
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -1001)
  redis.call('PEXPIRE', KEYS[2], ttl)
end
return 1
