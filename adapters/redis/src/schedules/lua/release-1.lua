--[[
  release-1: gives the lease up when the caller still holds it.

  KEYS[1]  base .. 'schedules:leader'
  ARGV[1]  '<token>|<owner>'

  Returns  1 when released, else 0
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])
