--[[
  advance-3: moves a schedule to its next tick when the caller's lease is the live one and the
  stored next run is the one the caller read (the fencing check and the compare-and-set in one step).

  KEYS[1]  base .. 'schedules:leader' · KEYS[2] base .. 'schedules' · KEYS[3] base .. 'sch:' .. name
  ARGV[1]  '<token>|<owner>' · ARGV[2] name · ARGV[3] expected next run · ARGV[4] new next run
  ARGV[5]  '1' when a tick was fired (then ARGV[6] lastRunAt · ARGV[7] lastJobId · ARGV[8] lastError,
           empty strings for none), '0' for a skip

  Returns  1 when advanced, 0 when refused
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if redis.call('HGET', KEYS[3], 'next') ~= ARGV[3] then return 0 end
redis.call('HSET', KEYS[3], 'next', ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[2])
if ARGV[5] == '1' then
  redis.call('HSET', KEYS[3], 'last', ARGV[6])
  if ARGV[7] ~= '' then redis.call('HSET', KEYS[3], 'job', ARGV[7]) else redis.call('HDEL', KEYS[3], 'job') end
  if ARGV[8] ~= '' then redis.call('HSET', KEYS[3], 'err', ARGV[8]) else redis.call('HDEL', KEYS[3], 'err') end
end
return 1
