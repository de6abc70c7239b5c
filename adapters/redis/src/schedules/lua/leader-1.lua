--[[
  leader-1: who holds the lease and for how long.

  KEYS[1]  base .. 'schedules:leader'

  Returns  { '<token>|<owner>', remaining ms }, or nil when nobody holds it
]]
local held = redis.call('GET', KEYS[1])
if not held then return false end
return { held, redis.call('PTTL', KEYS[1]) }
