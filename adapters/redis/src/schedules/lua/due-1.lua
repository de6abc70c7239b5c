--[[
  due-1: schedules whose next run is at or before a time, earliest first.

  KEYS[1]  base .. 'schedules'
  ARGV[1]  base · ARGV[2] max next run ('+inf' for every schedule) · ARGV[3] limit

  Returns  { { name, flat hash }, ... }
]]
local base = ARGV[1]
local names = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, name in ipairs(names) do
  local flat = redis.call('HGETALL', base .. 'sch:' .. name)
  if #flat > 0 then out[#out + 1] = { name, flat } end
end
return out
