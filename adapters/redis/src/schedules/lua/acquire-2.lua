--[[
  acquire-2: takes the scheduler leadership when nobody holds it, with a new fencing token; extends
  it (same token) when the caller holds it already.

  KEYS[1]  base .. 'schedules:leader'  (string '<token>|<owner>' with a TTL)
  KEYS[2]  base .. 'schedules:fence'   (counter of tokens ever granted)
  ARGV[1]  owner · ARGV[2] ttlMs

  Returns  the token, or nil when another owner holds the lease
]]
local held = redis.call('GET', KEYS[1])
if held then
  local sep = string.find(held, '|', 1, true)
  if string.sub(held, sep + 1) ~= ARGV[1] then return false end
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return tonumber(string.sub(held, 1, sep - 1))
end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], token .. '|' .. ARGV[1], 'PX', ARGV[2])
return token
