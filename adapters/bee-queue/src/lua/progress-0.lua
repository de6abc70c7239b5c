--[[
  progress-0: stores the progress of a running attempt and publishes it (Bee-Queue's `progress`).

  ARGV[1..3]  CV, BQ, now
  ARGV[4]     job id
  ARGV[5]     worker id
  ARGV[6]     attempt
  ARGV[7]     progress JSON

  Returns     1 when stored; 0 when the attempt is no longer this worker's
]]
-- @include common
local id, workerId, attempt, progress = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local key = jkey(id)
if load(id) ~= 'active' or redis.call('HGET', key, 'attempt') ~= attempt
  or redis.call('HGET', key, 'workerId') ~= workerId then
  return 0
end
redis.call('HSET', key, 'progress', progress)
publish(redis.call('HGET', key, 'queue'), id, 'progress', attempt, nil, 'progress', progress)
return 1
