--[[
  retry-1: moves a failed or cancelled job back to waiting with a fresh attempt budget
  (retryRecord of @conveyor/core).

  KEYS[1]  base .. 'events'
  ARGV[1]  base · ARGV[2] now · ARGV[3] MAXLEN · ARGV[4] id

  Returns  the job's HGETALL, or false when it is missing or not failed/cancelled
]]
-- @include common
local base, now, maxlen, id = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
sweep(base, now, 20)
local key = jkey(base, id)
local job = redis.call('HMGET', key, 'state', 'queue', 'priority')
if job[1] ~= 'failed' and job[1] ~= 'cancelled' then return false end
detach(base, id, key, job[2], job[1])
redis.call('ZREM', base .. 'expiring', id)
redis.call('HDEL', key, 'error', 'result', 'finishedAt', 'expiresAt', 'progress', 'workerId', 'cx')
redis.call('HSET', key, 'attempt', 0, 'runAt', now)
toWaiting(base, id, key, job[2], now, job[3])
emit(base, maxlen, 'waiting', id, job[2], now, 0, nil)
return redis.call('HGETALL', key)
