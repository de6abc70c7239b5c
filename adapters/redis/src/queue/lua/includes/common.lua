--[[
  Shared helpers, pasted into each script where it says `-- @include common` (see scripts.ts).
  Every key of one Conveyor prefix shares the hash tag in `base` ("{<prefix>}:"), so the keys a
  script builds from it live in the same Cluster slot as the KEYS it declares.

  Keys under base:  j:<id> job hash · q:<queue>:<set> per-state sets · queues · paused · seq ·
  events (stream) · listeners (zset: subscribed reader → registration deadline) ·
  expiring (zset expiresAt)
  Per-queue sets:   w waiting (score -priority, member <runAt:15><seq:12><id>) · d delayed and
  r retrying (score runAt) · a active (score lease deadline) · c completed, f failed,
  x cancelled (score finishedAt) · all (score createdAt) · s wake-up list (at most one token)
]]
local SET = { waiting = 'w', delayed = 'd', retrying = 'r', active = 'a', completed = 'c', failed = 'f', cancelled = 'x' }

local function qkey(base, queue, set)
  return base .. 'q:' .. queue .. ':' .. set
end

local function jkey(base, id)
  return base .. 'j:' .. id
end

-- Sorted-set writes gathered over a script call and sent as one ZADD or ZREM per key, since each
-- redis.call has a fixed cost: later('ZADD', key, score, member), later('ZREM', key, member), then
-- flushLater() before anything reads those keys. A key's batch goes out at 1,000 members (unpack
-- has a limit).
local pending, pendingOrder = { ZADD = {}, ZREM = {} }, {}
local function later(op, key, a, b)
  local byKey = pending[op]
  local args = byKey[key]
  if args == nil then
    args = { op, key }
    byKey[key] = args
    pendingOrder[#pendingOrder + 1] = args
  end
  local n = #args
  args[n + 1] = a
  if b ~= nil then
    n = n + 1
    args[n + 1] = b
  end
  if n + 1 >= 2002 then
    redis.call(unpack(args))
    for i = n + 1, 3, -1 do args[i] = nil end
  end
end

local function flushLater()
  for _, args in ipairs(pendingOrder) do
    if #args > 2 then redis.call(unpack(args)) end
  end
  pending, pendingOrder = { ZADD = {}, ZREM = {} }, {}
end

-- One token at most: a consumer woken by it claims, and the claim re-signals while jobs remain.
local function signal(base, queue)
  local key = qkey(base, queue, 's')
  if redis.call('LLEN', key) == 0 then
    redis.call('RPUSH', key, '1')
  end
end

-- Whether any process subscribes to this prefix's events (a registration whose deadline is
-- still ahead), looked up once per script call: with nobody listening no event is written.
local listening = nil
local function anyListener(base, now)
  if listening == nil then
    local last = redis.call('ZRANGE', base .. 'listeners', -1, -1, 'WITHSCORES')
    listening = #last > 0 and tonumber(last[2]) > tonumber(now)
  end
  return listening
end

-- Appends one lifecycle event; `extra` holds more field/value pairs (result, error, progress…).
local function emit(base, maxlen, kind, id, queue, now, attempt, extra)
  if not anyListener(base, now) then return end
  local args = { 'XADD', base .. 'events', 'MAXLEN', '~', maxlen, '*', 't', kind, 'j', id, 'q', queue, 'at', now }
  if attempt ~= nil then
    args[#args + 1] = 'a'
    args[#args + 1] = attempt
  end
  if extra ~= nil then
    for i = 1, #extra do
      args[#args + 1] = extra[i]
    end
  end
  redis.call(unpack(args))
end

-- The member of a job in its queue's waiting set (score -priority): ordered by runAt, then
-- arrival. The id starts at character 28.
local function waitingMember(base, id, runAt, seq)
  seq = seq or redis.call('INCR', base .. 'seq')
  return string.format('%015d%012d', math.floor(tonumber(runAt)), seq) .. id
end

-- Puts a job in its queue's waiting set, ordered by priority, then runAt, then arrival.
local function toWaiting(base, id, key, queue, runAt, priority)
  local member = waitingMember(base, id, runAt)
  redis.call('ZADD', qkey(base, queue, 'w'), -tonumber(priority), member)
  redis.call('HSET', key, 'state', 'waiting', 'wm', member)
  signal(base, queue)
end

-- Removes a job from the set of its current state.
local function detach(base, id, key, queue, state)
  if state == 'waiting' then
    local member = redis.call('HGET', key, 'wm')
    if member then
      redis.call('ZREM', qkey(base, queue, 'w'), member)
    end
    redis.call('HDEL', key, 'wm')
  elseif SET[state] then
    redis.call('ZREM', qkey(base, queue, SET[state]), id)
  end
end

local function deleteJob(base, id, key, queue, state)
  detach(base, id, key, queue, state)
  redis.call('ZREM', qkey(base, queue, 'all'), id)
  redis.call('ZREM', base .. 'expiring', id)
  redis.call('DEL', key)
end

-- Forgets finished jobs whose expiresAt has passed (at most `limit`).
local function sweep(base, now, limit)
  local ids = redis.call('ZRANGEBYSCORE', base .. 'expiring', '-inf', now, 'LIMIT', 0, limit)
  for i = 1, #ids do
    local key = jkey(base, ids[i])
    local fields = redis.call('HMGET', key, 'queue', 'state')
    if fields[1] then
      deleteJob(base, ids[i], key, fields[1], fields[2])
    else
      redis.call('ZREM', base .. 'expiring', ids[i])
    end
  end
end

-- Ends a job that was not running: cancelled, kept until expiresAt ('' = until removed).
local function toCancelled(base, id, key, queue, now, expiresAt, maxlen, attempt, errorJson)
  redis.call('HSET', key, 'state', 'cancelled', 'finishedAt', now)
  redis.call('HDEL', key, 'workerId', 'cx')
  redis.call('ZADD', qkey(base, queue, 'x'), now, id)
  if expiresAt ~= nil and expiresAt ~= '' then
    redis.call('HSET', key, 'expiresAt', expiresAt)
    redis.call('ZADD', base .. 'expiring', expiresAt, id)
  end
  local extra = nil
  if errorJson ~= nil and errorJson ~= '' then
    redis.call('HSET', key, 'error', errorJson)
    extra = { 'e', errorJson }
  end
  emit(base, maxlen, 'cancelled', id, queue, now, attempt, extra)
end
