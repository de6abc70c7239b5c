--[[
  renew-1: extends the lease when the caller still holds it.

  KEYS[1]  base .. 'schedules:leader'
  ARGV[1]  '<token>|<owner>' · ARGV[2] ttlMs

  Returns  1 when extended, 0 when the lease is gone or someone else's
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
