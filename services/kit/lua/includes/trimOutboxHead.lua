--[[
  trimOutboxHead(outbox, relayState, upTo, incarnation): drops the outbox records whose
  sequence number is below `upTo` and raises the relay state's `base` (the head's sequence
  number) by as many, atomically with the caller. Only while the relay state's `inc` is
  `incarnation`, when that is not "": a trim owed to an outbox that was since lost and begun
  again must not drop the new one's records. Idempotent and monotonic (a bound at or below
  `base` changes nothing), and never drops more records than the list holds, so sequence
  numbers stay those of the records. Returns the number of records dropped.
]]
local function trimOutboxHead(outbox, relayState, upTo, incarnation)
  if incarnation ~= '' and redis.call('HGET', relayState, 'inc') ~= incarnation then
    return 0
  end
  local base = tonumber(redis.call('HGET', relayState, 'base') or '0')
  if upTo <= base then
    return 0
  end
  local count = upTo - base
  local length = redis.call('LLEN', outbox)
  if count > length then
    count = length
  end
  redis.call('LTRIM', outbox, count, -1)
  redis.call('HINCRBY', relayState, 'base', count)
  return count
end
