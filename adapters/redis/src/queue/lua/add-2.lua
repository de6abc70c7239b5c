--[[
  add-2: adds jobs atomically, each deduplicated by id across the whole prefix.

  KEYS[1]  base .. 'events'  (the event stream)
  KEYS[2]  base .. 'queues'  (set of known queue names)
  ARGV[1]  base: "{<prefix>}:"
  ARGV[2]  now (epoch ms)
  ARGV[3]  event stream MAXLEN (approximate)
  ARGV[4…] 11 per job: id, queue, task, input JSON, priority, runAt, maxAttempts,
           backoff JSON or '', timeoutMs or '', createdAt, meta JSON or ''

  Returns  one entry per job: 1 when created, else the existing job's HGETALL
]]
-- @include common
local base = ARGV[1]
local now = tonumber(ARGV[2])
local maxlen = ARGV[3]
local out = {}
for i = 4, #ARGV, 11 do
  local id, queue = ARGV[i], ARGV[i + 1]
  local key = jkey(base, id)
  local existing = redis.call('HGETALL', key)
  if #existing > 0 then
    out[#out + 1] = existing
  else
    local runAt = ARGV[i + 5]
    local createdAt = ARGV[i + 9]
    redis.call('HSET', key, 'id', id, 'queue', queue, 'task', ARGV[i + 2], 'input', ARGV[i + 3],
      'priority', ARGV[i + 4], 'attempt', 0, 'maxAttempts', ARGV[i + 6], 'createdAt', createdAt, 'runAt', runAt)
    if ARGV[i + 7] ~= '' then redis.call('HSET', key, 'backoff', ARGV[i + 7]) end
    if ARGV[i + 8] ~= '' then redis.call('HSET', key, 'timeoutMs', ARGV[i + 8]) end
    if ARGV[i + 10] ~= '' then redis.call('HSET', key, 'meta', ARGV[i + 10]) end
    redis.call('SADD', KEYS[2], queue)
    redis.call('ZADD', qkey(base, queue, 'all'), createdAt, id)
    redis.call('ZADD', base .. 'all', createdAt, id)
    emit(base, maxlen, 'added', id, queue, now, nil, nil)
    if tonumber(runAt) > now then
      redis.call('HSET', key, 'state', 'delayed')
      redis.call('ZADD', qkey(base, queue, 'd'), runAt, id)
      emit(base, maxlen, 'delayed', id, queue, now, 0, { 'ra', runAt })
      -- Wakes consumers so they learn the new earliest due time.
      signal(base, queue)
    else
      toWaiting(base, id, key, queue, runAt, ARGV[i + 4])
    end
    out[#out + 1] = 1
  end
end
return out
