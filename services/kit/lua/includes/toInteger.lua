--[[
  toInteger(value, fallback): a Redis reply or ARGV string as an integer, `fallback` when
  it is missing (false/nil) or not a number. Redis returns missing hash fields as `false`.
]]
local function toInteger(value, fallback)
  local number = tonumber(value)
  if number == nil then
    return fallback
  end
  return math.floor(number)
end
