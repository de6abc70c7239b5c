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
-- Per call, not per job: the queue registry, the wake-up token and the arrival numbers (one
-- INCRBY reserves a number for every job of the call; unused ones only leave gaps).
local seen, wake = {}, {}
local seq, lastSeq = nil, nil
for i = 4, #ARGV, 11 do
  local id, queue = ARGV[i], ARGV[i + 1]
  local key = jkey(base, id)
  local existing = redis.call('HGETALL', key)
  if #existing > 0 then
    out[#out + 1] = existing
  else
    local priority, runAt, createdAt = ARGV[i + 4], ARGV[i + 5], ARGV[i + 9]
    -- One HSET with every field: each redis.call from Lua has a fixed cost.
    local fields = { 'HSET', key, 'id', id, 'queue', queue, 'task', ARGV[i + 2], 'input', ARGV[i + 3],
      'priority', priority, 'attempt', 0, 'maxAttempts', ARGV[i + 6], 'createdAt', createdAt, 'runAt', runAt }
    if ARGV[i + 7] ~= '' then fields[#fields + 1] = 'backoff'; fields[#fields + 1] = ARGV[i + 7] end
    if ARGV[i + 8] ~= '' then fields[#fields + 1] = 'timeoutMs'; fields[#fields + 1] = ARGV[i + 8] end
    if ARGV[i + 10] ~= '' then fields[#fields + 1] = 'meta'; fields[#fields + 1] = ARGV[i + 10] end
    local delayed = tonumber(runAt) > now
    local member
    if delayed then
      fields[#fields + 1] = 'state'; fields[#fields + 1] = 'delayed'
    else
      if seq == nil then
        lastSeq = redis.call('INCRBY', base .. 'seq', (#ARGV - 3) / 11)
        seq = lastSeq - (#ARGV - 3) / 11
      end
      seq = seq + 1
      member = waitingMember(base, id, runAt, seq)
      fields[#fields + 1] = 'state'; fields[#fields + 1] = 'waiting'
      fields[#fields + 1] = 'wm'; fields[#fields + 1] = member
    end
    redis.call(unpack(fields))
    if not seen[queue] then
      seen[queue] = true
      redis.call('SADD', KEYS[2], queue)
    end
    redis.call('ZADD', qkey(base, queue, 'all'), createdAt, id)
    emit(base, maxlen, 'added', id, queue, now, nil, nil)
    if delayed then
      redis.call('ZADD', qkey(base, queue, 'd'), runAt, id)
      emit(base, maxlen, 'delayed', id, queue, now, 0, { 'ra', runAt })
    else
      redis.call('ZADD', qkey(base, queue, 'w'), -tonumber(priority), member)
    end
    -- A delayed job wakes consumers too, so they learn the new earliest due time.
    wake[queue] = true
    out[#out + 1] = 1
  end
end
for queue in pairs(wake) do
  signal(base, queue)
end
return out
