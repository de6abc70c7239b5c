--[[
  add-2: adds jobs atomically, each deduplicated by id across the whole prefix.

  KEYS[1]  base .. 'events'  (the event stream)
  KEYS[2]  base .. 'queues'  (set of known queue names)
  ARGV[1]  base: "{<prefix>}:"
  ARGV[2]  now (epoch ms)
  ARGV[3]  event stream MAXLEN (approximate)
  ARGV[4…] 6 per job: id, queue, the job's fixed part as one JSON object (record.ts JobData:
           id, task, input, maxAttempts, backoff, timeoutMs, createdAt, meta), priority, runAt,
           createdAt

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
local PER_JOB = 6
local jobs = (#ARGV - 3) / PER_JOB
for i = 4, #ARGV, PER_JOB do
  local id, queue = ARGV[i], ARGV[i + 1]
  local key = jkey(base, id)
  local existing = redis.call('HGETALL', key)
  if #existing > 0 then
    out[#out + 1] = existing
  else
    local priority, runAt, createdAt = ARGV[i + 3], ARGV[i + 4], ARGV[i + 5]
    -- One HSET, and few fields: what never changes is one value ('d'); the scripts read and
    -- index the others.
    local fields = { 'HSET', key, 'd', ARGV[i + 2], 'queue', queue, 'priority', priority, 'attempt', 0, 'runAt', runAt }
    local delayed = tonumber(runAt) > now
    local member
    if delayed then
      fields[#fields + 1] = 'state'; fields[#fields + 1] = 'delayed'
    else
      if seq == nil then
        lastSeq = redis.call('INCRBY', base .. 'seq', jobs)
        seq = lastSeq - jobs
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
    later('ZADD', qkey(base, queue, 'all'), createdAt, id)
    emit(base, maxlen, 'added', id, queue, now, nil, nil)
    if delayed then
      later('ZADD', qkey(base, queue, 'd'), runAt, id)
      emit(base, maxlen, 'delayed', id, queue, now, 0, { 'ra', runAt })
    else
      later('ZADD', qkey(base, queue, 'w'), -tonumber(priority), member)
    end
    -- A delayed job wakes consumers too, so they learn the new earliest due time.
    wake[queue] = true
    out[#out + 1] = 1
  end
end
flushLater()
for queue in pairs(wake) do
  signal(base, queue)
end
return out
