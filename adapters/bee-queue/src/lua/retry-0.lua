--[[
  retry-0: moves a failed or cancelled job back to waiting with a fresh attempt budget, and puts
  it back on Bee-Queue's waiting list (as Bee-Queue's Job#retry does).

  ARGV[1..3]  CV, BQ, now
  ARGV[4]     job id

  Returns     the record's HGETALL, or nil when the job is missing or not failed/cancelled
]]
-- @include common
local id = ARGV[4]
local state = load(id)
if state ~= 'failed' and state ~= 'cancelled' then return nil end
local key = jkey(id)
local queue = redis.call('HGET', key, 'queue')
clearExpiry(id)
move(id, queue, state, 'waiting')
redis.call('HSET', key, 'attempt', 0, 'runAt', NOW_S)
redis.call('HDEL', key, 'error', 'result', 'finishedAt', 'progress', 'workerId', 'cancel', 'startedAt', 'fin', 'claim')
redis.call('SREM', bq(queue, 'failed'), id)
redis.call('SREM', bq(queue, 'succeeded'), id)
redis.call('ZREM', bq(queue, 'delayed'), id)
redis.call('LREM', bq(queue, 'waiting'), 0, id)
redis.call('HSET', bq(queue, 'jobs'), id, bqData(redis.call('HGET', key, 'task'), redis.call('HGET', key, 'createdAt')))
redis.call('LPUSH', bq(queue, 'waiting'), id)
publish(queue, id, 'waiting', 0, nil)
return redis.call('HGETALL', key)
