--[[
  Keeps a tracker event that Kafka has not taken yet (the broker slow or away) in the spool, so
  that a tracker killed before it could publish the event does not lose it: the spool's drainer
  (any instance) publishes it later.

  KEYS[1]  the spool: hash event_id -> JSON {at, event}

  ARGV[1]  the event id
  ARGV[2]  the JSON
  ARGV[3]  the most entries the spool holds

  Returns 1 when the event is in the spool (now or already), 0 when the spool is full (nothing written).
]]
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  return 1
end
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
