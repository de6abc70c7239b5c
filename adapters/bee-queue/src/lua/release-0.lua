--[[
  release-0: a closing worker hands its running attempts back: each goes to waiting with the
  interrupted attempt uncounted (or to cancelled when a cancel was pending). The worker then lets
  Bee-Queue put the job back on its waiting list, unless ARGV[5] names the Bee-Queue queue.

  ARGV[1..3]  CV, BQ, now
  ARGV[4]     worker id
  ARGV[5]     '', or the Bee-Queue queue whose worker took these jobs but will not start them
              (Bee-Queue then writes nothing): each goes from its active list back to the front of
              its waiting list here (off the active list only when it ends cancelled)
  ARGV[6…]    pairs: job id, attempt

  Returns     how many were released
]]
-- @include common
local workerId, beeQueue = ARGV[4], ARGV[5]
local released = 0
for i = 6, #ARGV, 2 do
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
      if beeQueue ~= '' then redis.call('LREM', bq(beeQueue, 'active'), 0, id) end
    else
      redis.call('HSET', key, 'attempt', previous)
      move(id, queue, 'active', 'waiting')
      publish(queue, id, 'waiting', previous, nil)
      -- RPUSH: Bee-Queue's workers take from this end, so the job keeps its place in line.
      if beeQueue ~= '' and redis.call('LREM', bq(beeQueue, 'active'), 0, id) > 0 then
        redis.call('RPUSH', bq(beeQueue, 'waiting'), id)
      end
    end
    released = released + 1
  end
end
return released
