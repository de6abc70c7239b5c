--[[
  cancel-0: cancels a job. A pending one ends cancelled at once and leaves Bee-Queue's lists; a
  running one is flagged and named on the cancel channel, and its worker aborts it.

  ARGV[1..3]  CV, BQ, now
  ARGV[4]     job id
  ARGV[5]     expiresAt of the cancelled job, or ''

  Returns     'cancelled' | 'requested' | 'finished' | 'not-found'
]]
-- @include common
local id, expiresAt = ARGV[4], ARGV[5]
local state = load(id)
if not state then return 'not-found' end
if TERMINAL[state] then return 'finished' end
local key = jkey(id)
if state == 'active' then
  redis.call('HSET', key, 'cancel', expiresAt == '' and 'keep' or expiresAt)
  redis.call('PUBLISH', CV .. 'cancel', id)
  return 'requested'
end
local queue = redis.call('HGET', key, 'queue')
redis.call('LREM', bq(queue, 'waiting'), 0, id)
redis.call('ZREM', bq(queue, 'delayed'), id)
move(id, queue, state, 'cancelled')
redis.call('HSET', key, 'finishedAt', NOW_S)
redis.call('HDEL', key, 'workerId')
setExpiry(id, expiresAt)
publish(queue, id, 'cancelled', tonumber(redis.call('HGET', key, 'attempt')), nil)
return 'cancelled'
