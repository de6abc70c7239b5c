--[[
  common: shared by every script of @conveyor/bee-queue.

  Every script gets the same first three ARGV:
  ARGV[1]  CV: "<prefix>:#conveyor:", the root of Conveyor's side-store
  ARGV[2]  BQ: "<prefix>:", the root of Bee-Queue's own keys ("<prefix>:<queue>:<name>")
  ARGV[3]  now (epoch ms)

  Side-store keys (CV ..):
  j:<id>             hash, the Conveyor record (fields as JobRecord, JSON where not scalar;
                     `cancel` = 1 while a cancel of the active job is pending)
  all                zset id -> createdAt, every job (listing newest first)
  q:<queue>          zset id -> createdAt, the jobs of one queue
  s:<queue>:<state>  set of ids per queue and state (counts), except that waiting and active
                     share s:<queue>:pending and completed is Bee-Queue's succeeded set (skey)
  queues             set of queue names
  expiring           zset id -> expiresAt (finished jobs with a TTL): the record is gone once
                     expiresAt has passed (every read checks it) and is deleted with its index
                     entries by `prune` (adds, inspections and every worker's check timer)
  cancel             pub/sub channel: ids whose running attempt must abort

  Bee-Queue keys used (BQ .. <queue> .. ':' ..): jobs (hash id -> Bee-Queue job JSON), waiting
  (list), active (list), delayed (zset), stalling, succeeded, failed (sets), events and
  earlierDelayed (channels). Jobs are written there exactly as Bee-Queue's own addJob/addDelayedJob scripts do.
]]
local CV = ARGV[1]
local BQ = ARGV[2]
local NOW_S = ARGV[3]
local NOW = tonumber(NOW_S)
local TERMINAL = { completed = true, failed = true, cancelled = true }

local function jkey(id) return CV .. 'j:' .. id end
local function bq(queue, name) return BQ .. queue .. ':' .. name end
-- The set that indexes a state (counts, purge). Waiting and active share `pending`, so a claim
-- moves nothing (counts split them with Bee-Queue's active list); completed is Bee-Queue's own
-- succeeded set, which the finish fills anyway.
local function skey(queue, state)
  if state == 'waiting' or state == 'active' then return CV .. 's:' .. queue .. ':pending' end
  if state == 'completed' then return bq(queue, 'succeeded') end
  return CV .. 's:' .. queue .. ':' .. state
end
local function str(s) return cjson.encode(s) end

-- One lifecycle event, in Bee-Queue's message shape ({ id, event, data }) on the queue's own
-- Bee-Queue channel, so Bee-Queue listeners see Conveyor jobs; the Conveyor event rides along
-- under `conveyor` (its result and progress are `data`). `extra` is a raw JSON fragment.
local function publish(queue, id, kind, attempt, extra, bqEvent, bqData)
  local msg = '{"id":' .. str(id) .. ',"event":"' .. (bqEvent or kind) .. '"'
  if bqData ~= nil and bqData ~= '' then msg = msg .. ',"data":' .. bqData end
  msg = msg .. ',"conveyor":{"type":"' .. kind .. '","at":' .. NOW_S
  if attempt ~= nil then msg = msg .. ',"attempt":' .. attempt end
  if extra ~= nil then msg = msg .. extra end
  redis.call('PUBLISH', bq(queue, 'events'), msg .. '}}')
end

-- The message of a stored error (JSON), as Bee-Queue sends it for failed and retrying.
local function errorMessage(errorJson)
  if errorJson == nil or errorJson == '' then return '""' end
  local ok, decoded = pcall(cjson.decode, errorJson)
  if ok and type(decoded) == 'table' and type(decoded.message) == 'string' then
    return str(decoded.message)
  end
  return '""'
end

-- Moves a job between the per-state sets (when its state changes set).
local function reindex(id, queue, from, to)
  local set = skey(queue, to)
  if not from or skey(queue, from) ~= set then
    if from then redis.call('SREM', skey(queue, from), id) end
    redis.call('SADD', set, id)
  end
end

-- Moves a job between the per-state sets and stores its state.
local function move(id, queue, from, to)
  reindex(id, queue, from, to)
  redis.call('HSET', jkey(id), 'state', to)
end

local function clearExpiry(id)
  redis.call('HDEL', jkey(id), 'expiresAt')
  redis.call('ZREM', CV .. 'expiring', id)
end

-- A finished job's TTL: reads treat the record as gone once it has passed, and `prune` deletes
-- it with its index entries (the hash has no Redis expiry, so the indexes never outlive it).
local function setExpiry(id, expiresAt)
  if expiresAt == nil or expiresAt == '' then
    clearExpiry(id)
    return
  end
  redis.call('HSET', jkey(id), 'expiresAt', expiresAt)
  redis.call('ZADD', CV .. 'expiring', expiresAt, id)
end

-- Bee-Queue's job JSON, as Job#toData writes it; `data.task` names the Conveyor task.
local function bqData(task, createdAt)
  return '{"data":{"task":' .. str(task) .. '},"options":{"timestamp":' .. createdAt ..
    ',"stacktraces":[]},"status":"created","progress":0}'
end

-- Forgets the Bee-Queue side of a job that is not running (a running one keeps its data until
-- its worker finishes it).
local function forgetBee(id, queue)
  local pending = redis.call('LREM', bq(queue, 'waiting'), 0, id) + redis.call('ZREM', bq(queue, 'delayed'), id)
  redis.call('SREM', bq(queue, 'succeeded'), id)
  redis.call('SREM', bq(queue, 'failed'), id)
  redis.call('SREM', bq(queue, 'stalling'), id)
  if pending > 0 or not redis.call('LPOS', bq(queue, 'active'), id) then
    redis.call('HDEL', bq(queue, 'jobs'), id)
  end
end

-- Deletes a job and every index entry that names it.
local function destroy(id, queue, state)
  if state then redis.call('SREM', skey(queue, state), id) end
  redis.call('ZREM', CV .. 'all', id)
  redis.call('ZREM', CV .. 'q:' .. queue, id)
  redis.call('ZREM', CV .. 'expiring', id)
  redis.call('DEL', jkey(id))
  forgetBee(id, queue)
end

-- Drops up to `limit` jobs whose TTL has passed (their hash may already be gone).
local function prune(limit)
  local due = redis.call('ZRANGEBYSCORE', CV .. 'expiring', '-inf', NOW, 'LIMIT', 0, limit)
  for _, id in ipairs(due) do
    local f = redis.call('HMGET', jkey(id), 'queue', 'state', 'expiresAt')
    if f[1] and f[3] and tonumber(f[3]) <= NOW then
      destroy(id, f[1], f[2])
    else
      redis.call('ZREM', CV .. 'expiring', id)
    end
  end
end

-- The job's hash, or nil when it does not exist or its TTL has passed.
local function load(id)
  local key = jkey(id)
  local state = redis.call('HGET', key, 'state')
  if not state then return nil end
  local expiresAt = redis.call('HGET', key, 'expiresAt')
  if expiresAt and tonumber(expiresAt) <= NOW then
    destroy(id, redis.call('HGET', key, 'queue'), state)
    return nil
  end
  return state
end
