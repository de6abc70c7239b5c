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
-- Events are looked up once: with nobody listening none is built.
local listen = anyListener(base, now)
for i = 4, #ARGV, PER_JOB do
  local id, queue = ARGV[i], ARGV[i + 1]
  local key = jkey(base, id)
  -- EXISTS rather than an HGETALL of every new job: an integer answer, no empty table made.
  if redis.call('EXISTS', key) == 1 then
    out[#out + 1] = redis.call('HGETALL', key)
  else
    local priority, runAt, createdAt = ARGV[i + 3], ARGV[i + 4], ARGV[i + 5]
    -- One HSET with its arguments written out (no table to build and unpack), and few fields:
    -- what never changes is one value ('d'); the scripts read and index the others.
    local delayed = tonumber(runAt) > now
    if delayed then
      redis.call('HSET', key, 'd', ARGV[i + 2], 'queue', queue, 'priority', priority, 'attempt', 0,
        'runAt', runAt, 'state', 'delayed')
      later('ZADD', qkey(base, queue, 'd'), runAt, id)
    else
      if seq == nil then
        lastSeq = redis.call('INCRBY', base .. 'seq', jobs)
        seq = lastSeq - jobs
      end
      seq = seq + 1
      local member = waitingMember(base, id, runAt, seq)
      redis.call('HSET', key, 'd', ARGV[i + 2], 'queue', queue, 'priority', priority, 'attempt', 0,
        'runAt', runAt, 'state', 'waiting', 'wm', member)
      later('ZADD', qkey(base, queue, 'w'), -tonumber(priority), member)
    end
    if not seen[queue] then
      seen[queue] = true
      redis.call('SADD', KEYS[2], queue)
    end
    later('ZADD', qkey(base, queue, 'all'), createdAt, id)
    if listen then
      emit(base, maxlen, 'added', id, queue, now, nil, nil)
      if delayed then emit(base, maxlen, 'delayed', id, queue, now, 0, { 'ra', runAt }) end
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
