--[[
  stalled-0: Bee-Queue's checkStalledJobs moved these jobs from active back to waiting (their
  worker stopped renewing them); their Conveyor records follow: waiting again with the attempt
  counted, or cancelled when a cancel was pending.

  ARGV[1..3]  CV, BQ, now
  ARGV[4]     queue
  ARGV[5…]    job ids

  Returns     how many records changed
]]
-- @include common
local queue = ARGV[4]
local changed = 0
for i = 5, #ARGV do
  local id = ARGV[i]
  local key = jkey(id)
  -- Only while the job still waits on Bee-Queue's list: once a worker took it again, its claim
  -- (which sees the record still active) tells the story instead.
  if load(id) == 'active' and redis.call('HGET', key, 'queue') == queue
    and redis.call('LPOS', bq(queue, 'waiting'), id, 'MAXLEN', 1000) then
    local attempt = redis.call('HGET', key, 'attempt')
    redis.call('HDEL', key, 'workerId')
    publish(queue, id, 'stalled', attempt, nil)
    local cancel = redis.call('HGET', key, 'cancel')
    if cancel then
      redis.call('HDEL', key, 'cancel')
      redis.call('LREM', bq(queue, 'waiting'), 0, id)
      move(id, queue, 'active', 'cancelled')
      redis.call('HSET', key, 'finishedAt', NOW_S)
      if cancel ~= 'keep' then setExpiry(id, cancel) end
      publish(queue, id, 'cancelled', attempt, nil)
    else
      move(id, queue, 'active', 'waiting')
      publish(queue, id, 'waiting', attempt, nil)
    end
    changed = changed + 1
  end
end
return changed
