--[[
  remove-2: deletes a schedule.

  KEYS[1]  base .. 'schedules' · KEYS[2] base .. 'sch:' .. name
  ARGV[1]  name

  Returns  1 when it existed, else 0
]]
redis.call('ZREM', KEYS[1], ARGV[1])
return redis.call('DEL', KEYS[2])
