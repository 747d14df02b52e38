--[[
  Reads the head of a partition's outbox with the sequence number of its first record, for the
  outbox relay (outbox-relay.ts). Every record appended to the outbox gets the next sequence
  number of the partition implicitly: the relay state keeps `base`, the sequence number of the
  head, and a trim (trimOutboxTo-2.lua, or ARGV[7] here) raises it by the number of records
  it drops, in the same call.
  So the record at index i has sequence number base + i, without the scripts that append
  (applyPartitionChange, finishTrigger) knowing about it.

  `inc` names this outbox's incarnation: the relay stores it with its Kafka checkpoint, so a
  checkpoint written for an outbox that was since lost (Redis flushed, state reset) is not
  taken for this one's. It is set on the first read.

  The guard: when ARGV[3] is not empty, the read happens only if the partition's fence still
  holds that incarnation: field `inc` of a fence hash (PartitionProcessor), or the value of a
  plain string key (the renderer's state marker). A fence without it means the state the caller
  applied to vanished (Redis flushed, restarted empty, failed over to an empty replica) or was
  replaced since: the outbox then cannot hold what the caller appended, and nothing is read or
  recorded. Checked in the same call as the read, so a read that passed saw the caller's outbox.

  The owner: when ARGV[4] is not empty, the read happens only if the relay state's `owner` (the
  transactional id of the relay that last claimed the partition, claimOutbox-1.lua) is that one.
  A relay that finds another owner was taken over (a zombie after a rebalance) and must not
  produce the partition's records: the new owner fenced its producer after claiming.

  The cover: when ARGV[5] is "1" and KEYS[3] is a fence hash, the read also returns, as JSON,
  what the fence says the outbox holds the outputs of: the state's incarnation (`inc`), the last
  applied offset per topic (`o`) and the timer watermark (`tt`, every timer due by it fired),
  lowered to just before the earliest timer still set in KEYS[4] (one the clock has not reached
  yet, or one a batch set after the last firing). Read in the same call, so when the read reaches
  the end of the outbox, every output of those records and timers is in it or was relayed
  before: the relay commits the cover with its checkpoint, and `state rebuild` takes its restore
  bounds from it (outbox-relay.ts, coverOfChunk).

  KEYS[1]  outbox list
  KEYS[2]  relay state hash: `base` (sequence number of the head, default 0), `inc`, `owner`
  KEYS[3]  the partition's fence hash or marker string (same hash tag), read when ARGV[3] is not
           empty or ARGV[5] is "1"
  KEYS[4]  the partition's timers sorted set (same hash tag), read only when ARGV[5] is "1"
  ARGV[1]  how many records to read at most
  ARGV[2]  the incarnation to record if there is none yet
  ARGV[3]  the fence incarnation the caller applied to, or "" for no guard
  ARGV[4]  the owner the caller claimed the partition as, or "" for no check
  ARGV[5]  "1" to read the cover, else ""
  ARGV[6]  the index of the first record to read (optional, default 0: the head): a relay that
           reads an outbox on in one transaction (outbox-relay.ts) reads past what it has not
           trimmed yet
  ARGV[7]  a trim owed first (optional, "" for none): the sequence number below which records
           are dropped before anything else, as trimOutboxTo-2.lua does. The exactly_once
           relay trims what its last transaction committed here, in its next read, instead of
           in a call of its own (outbox-relay.ts); the at_least_once relay passes the trim it
           sent and has no answer to yet (done twice, it drops nothing more). Done even when the
           guard or the owner check then refuses the read: those records are in Kafka, whoever
           owns the partition now
  ARGV[8]  the incarnation that trim is for: only while the relay state's `inc` is that one
           (an outbox lost and begun again since is not trimmed)
  ARGV[9]  the fence version the read must come after (optional, "" for none): a relay read
           sent right behind an apply, before its answer (outbox-relay.ts, readAhead), passes
           the version that apply makes. When KEYS[3] is a fence hash whose `v` is below it,
           or there is no fence, the read ran before the apply (a command sent again after a
           redirection or a flushed script cache), and nothing is read or checked

  Returns {base, inc, cover JSON or "", record 1, record 2, ...} (base: the sequence number of
  the head after the trim, not of the first record returned), {"early", the fence's version}
  when it ran before the version of ARGV[9], {"vanished", the fence's incarnation or ""} when
  the guard does not hold, or {"taken", the owner now or ""} when the owner is another.
]]
--@include "fenceCover"
--@include "trimOutboxHead"
if ARGV[7] and ARGV[7] ~= '' then
  trimOutboxHead(KEYS[1], KEYS[2], tonumber(ARGV[7]), ARGV[8])
end
if ARGV[9] and ARGV[9] ~= '' then
  local kind = redis.call('TYPE', KEYS[3])['ok']
  local version = 0
  if kind == 'hash' then
    version = tonumber(redis.call('HGET', KEYS[3], 'v') or '0')
  end
  if (kind == 'hash' or kind == 'none') and version < tonumber(ARGV[9]) then
    return {'early', tostring(version)}
  end
end
if ARGV[3] ~= '' then
  local kind = redis.call('TYPE', KEYS[3])['ok']
  local fence = false
  if kind == 'hash' then
    fence = redis.call('HGET', KEYS[3], 'inc')
  elseif kind == 'string' then
    fence = redis.call('GET', KEYS[3])
  end
  if fence ~= ARGV[3] then
    return {'vanished', fence or ''}
  end
end
if ARGV[4] ~= '' then
  local owner = redis.call('HGET', KEYS[2], 'owner')
  if owner ~= ARGV[4] then
    return {'taken', owner or ''}
  end
end
local inc = redis.call('HGET', KEYS[2], 'inc')
if not inc then
  inc = ARGV[2]
  redis.call('HSET', KEYS[2], 'inc', inc)
end
local base = redis.call('HGET', KEYS[2], 'base') or '0'
local cover = ''
if ARGV[5] == '1' and redis.call('TYPE', KEYS[3])['ok'] == 'hash' then
  cover = fenceCover(KEYS[3], redis.call('ZRANGE', KEYS[4], 0, 0, 'WITHSCORES')[2])
end
local result = {base, inc, cover}
local from = tonumber(ARGV[6] or '0')
local records = redis.call('LRANGE', KEYS[1], from, from + tonumber(ARGV[1]) - 1)
for i = 1, #records do
  result[i + 3] = records[i]
end
return result
