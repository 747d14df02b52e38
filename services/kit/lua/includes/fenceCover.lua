--[[
  fenceCover(fenceKey, earliestDue): what a partition's outbox holds the outputs of, as the JSON
  of a RelayCover (outbox-relay.ts, coverOfFence), or '' when the fence records no applied offset
  or no incarnation. Read from the fence hash: its incarnation (`inc`), the last applied offset
  per topic (`o`, from the fields `o:<topic>`) and the timer watermark (`tt`, every timer due by
  it fired), lowered to just before `earliestDue`, the score of the earliest timer still set in
  the partition's timers (one the clock has not reached yet, or one a batch set after the last
  firing; nil or false when none is set: the caller reads it, as it may need it too). Called in
  the same script as the outbox read or append it describes, so every output of those records
  and timers is in the outbox at that moment or was relayed before.
]]
local function fenceCover(fenceKey, earliestDue)
  local fields = redis.call('HGETALL', fenceKey)
  local offsets = {}
  local found = {o = offsets}
  local any = false
  for i = 1, #fields, 2 do
    local name, value = fields[i], fields[i + 1]
    if string.sub(name, 1, 2) == 'o:' then
      offsets[string.sub(name, 3)] = value
      any = true
    elseif name == 'inc' or name == 'tt' then
      found[name] = value
    end
  end
  if not (any and found.inc) then
    return ''
  end
  if found.tt then
    local through = tonumber(found.tt)
    if earliestDue and tonumber(earliestDue) - 1 < through then
      through = tonumber(earliestDue) - 1
    end
    found.tt = string.format('%.0f', through)
  end
  return cjson.encode(found)
end
