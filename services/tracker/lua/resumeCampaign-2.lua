--[[
  Resumes a paused campaign: takes it off the pause list and starts its guard window afresh
  (the counts that paused it would otherwise pause it again at the next event).

  KEYS[1]  the pause list: hash campaign -> JSON
  KEYS[2]  the campaign's counters (hash)

  ARGV[1]  the campaign

  Returns 1 when the campaign was paused, 0 when it was not (nothing changed then).
]]
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then
  return 0
end
redis.call('DEL', KEYS[2])
return 1
