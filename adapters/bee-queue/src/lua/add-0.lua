--[[
  add-0: adds jobs atomically, each deduplicated by id across the whole prefix: the Conveyor
  record in the side-store and the Bee-Queue job (as Bee-Queue's addJob / addDelayedJob write it).

  ARGV[1..3]  CV, BQ, now (see common)
  ARGV[4…]    11 per job: id, queue, task, input JSON, priority, runAt, maxAttempts,
              backoff JSON or '', timeoutMs or '', createdAt, meta JSON or ''

  Returns     one entry per job: 1 when created, else the existing job's HGETALL
]]
-- @include common
-- Cleans up after expired jobs at the pace jobs arrive.
prune(100 + 2 * math.floor((#ARGV - 3) / 11))
local out = {}
local seenQueues = {}
for i = 4, #ARGV, 11 do
  local id, queue, task = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local key = jkey(id)
  if redis.call('EXISTS', key) == 1 and load(id) then
    out[#out + 1] = redis.call('HGETALL', key)
  else
    -- Index entries left by an earlier job of this id that expired unnoticed.
    local where = redis.call('HGET', CV .. 'where', id)
    if where then
      local sep = string.find(where, '\0', 1, true)
      destroy(id, string.sub(where, 1, sep - 1), string.sub(where, sep + 1))
    end
    local runAt = ARGV[i + 5]
    local createdAt = ARGV[i + 9]
    local state = 'waiting'
    if tonumber(runAt) > NOW then state = 'delayed' end
    redis.call('HSET', key, 'id', id, 'queue', queue, 'task', task, 'input', ARGV[i + 3],
      'state', state, 'priority', ARGV[i + 4], 'attempt', 0, 'maxAttempts', ARGV[i + 6],
      'createdAt', createdAt, 'runAt', runAt)
    if ARGV[i + 7] ~= '' then redis.call('HSET', key, 'backoff', ARGV[i + 7]) end
    if ARGV[i + 8] ~= '' then redis.call('HSET', key, 'timeoutMs', ARGV[i + 8]) end
    if ARGV[i + 10] ~= '' then redis.call('HSET', key, 'meta', ARGV[i + 10]) end
    redis.call('SADD', skey(queue, state), id)
    redis.call('ZADD', CV .. 'all', createdAt, id)
    redis.call('ZADD', CV .. 'q:' .. queue, createdAt, id)
    if not seenQueues[queue] then
      redis.call('SADD', CV .. 'queues', queue)
      seenQueues[queue] = true
    end

    redis.call('HSET', bq(queue, 'jobs'), id, bqData(task, createdAt))
    if state == 'delayed' then
      redis.call('ZADD', bq(queue, 'delayed'), runAt, id)
      -- As addDelayedJob does: a new head wakes the workers' timers.
      local head = redis.call('ZRANGE', bq(queue, 'delayed'), 0, 0)
      if head[1] == id then redis.call('PUBLISH', bq(queue, 'earlierDelayed'), runAt) end
    else
      redis.call('LPUSH', bq(queue, 'waiting'), id)
    end
    publish(queue, id, 'added', nil, nil)
    out[#out + 1] = 1
  end
end
return out
