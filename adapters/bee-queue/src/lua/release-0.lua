--[[
  release-0: a closing worker hands its running attempts back: each goes to waiting with the
  interrupted attempt uncounted (or to cancelled when a cancel was pending). The worker then lets
  Bee-Queue put the job back on its waiting list.

  ARGV[1..3]  CV, BQ, now
  ARGV[4]     worker id
  ARGV[5…]    pairs: job id, attempt

  Returns     how many were released
]]
-- @include common
local workerId = ARGV[4]
local released = 0
for i = 5, #ARGV, 2 do
  local id, attempt = ARGV[i], ARGV[i + 1]
  local key = jkey(id)
  if load(id) == 'active' and redis.call('HGET', key, 'attempt') == attempt
    and redis.call('HGET', key, 'workerId') == workerId then
    local queue = redis.call('HGET', key, 'queue')
    local previous = math.max(0, tonumber(attempt) - 1)
    redis.call('HDEL', key, 'workerId')
    local cancel = redis.call('HGET', key, 'cancel')
    if cancel then
      redis.call('HDEL', key, 'cancel')
      move(id, queue, 'active', 'cancelled')
      redis.call('HSET', key, 'finishedAt', NOW_S)
      if cancel ~= 'keep' then setExpiry(id, cancel) end
      publish(queue, id, 'cancelled', attempt, nil)
    else
      redis.call('HSET', key, 'attempt', previous)
      move(id, queue, 'active', 'waiting')
      publish(queue, id, 'waiting', previous, nil)
    end
    released = released + 1
  end
end
return released
