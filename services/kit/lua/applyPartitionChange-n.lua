--[[
  Applies one computed change to a Kafka partition's state, atomically: customer states, timers,
  membership sets, records to the outbox, and the partition's fence (version and, for a
  consumed batch, the last applied offset of its topic). All keys share the partition's hash
  tag, so this runs on a single Redis and on a Redis Cluster alike.

  The fence makes replays harmless: the caller read the partition at `expectedVersion`,
  skipped records at or below the applied offset and computed from what it read. If anyone
  applied anything since (a zombie instance after a rebalance, a timer), the version differs
  and nothing is written; the caller reads again and recomputes.

  KEYS[1]            fence hash: field `v` = version, field `o:<topic>` = last applied offset,
                     `inc` = the state's incarnation id (bound to the group's commits, see
                     log-binding.ts), `st` = stream time (the newest event time applied, ms),
                     `tt` = timer watermark (every timer due by it has fired, ms), and after a
                     `state rebuild` `r:<topic>` and `rt` (restore bounds, read only)
  KEYS[2]            outbox list (encoded records, relayed to Kafka then trimmed)
  KEYS[3]            timers sorted set (member -> due time, ms)
  KEYS[4 .. 3+s]     customer state keys (strings)
  KEYS[4+s ..]       membership sets, then counter hashes (no TTL)

  ARGV[1]            expected version ("0" when the partition has never been written)
  ARGV[2]            topic whose offset advances, or "" (a timer firing advances none)
  ARGV[3]            the new applied offset of that topic
  ARGV[4]            state TTL in ms (each written state key expires after it)
  ARGV[5]            the incarnation id to record if the fence has none yet ("" = none)
  ARGV[6]            the partition's new stream time, ms ("" = unchanged); it never moves back
  ARGV[7]            JSON (built by applyPartitionChangeArgs in partition-state.ts):
                       states   s, the number of state values that follow
                       timers   pairs [member, due ms as a string ("" removes the member)]
                       sets     triples [KEYS index of the set, "+" or "-", member]
                       counters (optional) [KEYS index of the hash, field, increment as a
                                string, 1 = HINCRBYFLOAT else HINCRBY]
                       timersThrough (optional) the new timer watermark, ms as a string; `tt`
                                never moves back
                       timersRestored (optional) 1: remove the fence's `rt`
                       cover (optional) 1: the last outbox record (an encodeOutboxRecord
                                JSON object) gets a field `c` before its closing brace: the
                                fence's cover after this change (includes/fenceCover.lua), so a
                                relay that reads the outbox in chunks knows where each apply's
                                outputs end and what they cover (outbox-relay.ts, coverOfChunk)
  ARGV[8 .. 7+s]     one value per state key: ARGV[7+n] is that of KEYS[3+n] ("" deletes it)
  ARGV[8+s ..]       the encoded records to append to the outbox, in order

  The bulky values (states, records) stay plain arguments so that Redis does not decode them.

  Returns {1, newVersion, earliestDue} when applied (earliestDue: the score of the partition's
  earliest timer after the change, absent when it has none, so the caller knows without another
  round trip whether any timer is due), {0, currentVersion} when the version had moved.
]]
--@include "fenceCover"
local fence = KEYS[1]
local current = tonumber(redis.call('HGET', fence, 'v') or '0')
if current ~= tonumber(ARGV[1]) then
  return {0, current}
end

local ttl = tonumber(ARGV[4])
local change = cjson.decode(ARGV[7])
local states = change.states
for n = 1, states do
  local value = ARGV[7 + n]
  if value == '' then
    redis.call('DEL', KEYS[3 + n])
  else
    redis.call('SET', KEYS[3 + n], value, 'PX', ttl)
  end
end

for _, timer in ipairs(change.timers) do
  local member, due = timer[1], timer[2]
  if due == '' then
    redis.call('ZREM', KEYS[3], member)
  else
    redis.call('ZADD', KEYS[3], due, member)
  end
end

for _, membership in ipairs(change.sets) do
  local key, op, member = KEYS[membership[1]], membership[2], membership[3]
  if op == '+' then
    redis.call('SADD', key, member)
  else
    redis.call('SREM', key, member)
  end
end

for _, counter in ipairs(change.counters or {}) do
  local key, field, by, float = KEYS[counter[1]], counter[2], counter[3], counter[4]
  redis.call(float == 1 and 'HINCRBYFLOAT' or 'HINCRBY', key, field, by)
end

if ARGV[2] ~= '' then
  redis.call('HSET', fence, 'o:' .. ARGV[2], ARGV[3])
end
if ARGV[5] ~= '' then
  redis.call('HSETNX', fence, 'inc', ARGV[5])
end
if ARGV[6] ~= '' and tonumber(ARGV[6]) > tonumber(redis.call('HGET', fence, 'st') or '-1') then
  redis.call('HSET', fence, 'st', ARGV[6])
end
if change.timersThrough and tonumber(change.timersThrough) > tonumber(redis.call('HGET', fence, 'tt') or '-1') then
  redis.call('HSET', fence, 'tt', change.timersThrough)
end
if change.timersRestored then
  redis.call('HDEL', fence, 'rt')
end
-- The records last, after the fence and the timers moved: the last one may carry the fence's cover.
local earliest = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
local last = #ARGV
for n = 8 + states, last - 1 do
  redis.call('RPUSH', KEYS[2], ARGV[n])
end
if last >= 8 + states then
  local record = ARGV[last]
  if change.cover == 1 then
    local cover = fenceCover(fence, earliest[2])
    if cover ~= '' and string.sub(record, -1) == '}' then
      record = string.sub(record, 1, -2) .. ',"c":' .. cover .. '}'
    end
  end
  redis.call('RPUSH', KEYS[2], record)
end
local version = redis.call('HINCRBY', fence, 'v', 1)
return {1, version, earliest[2]}
