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

-- Writes to the indexes and to Bee-Queue's lists are gathered per key and sent in batches: a bulk
-- add then costs a few commands per job rather than a dozen. An add of one job writes at once
-- (the batches would only cost it time).
local batches, order = {}, {}
local single = #ARGV == 14
local function gather(command, key, ...)
  if single then
    redis.call(command, key, ...)
    return
  end
  local id = command .. '\0' .. key
  local batch = batches[id]
  if not batch then
    batch = { command = command, key = key, args = {} }
    batches[id] = batch
    order[#order + 1] = batch
  end
  for _, value in ipairs({ ... }) do batch.args[#batch.args + 1] = value end
end

-- The ids added per queue, for their `added` events (see below).
local added, addedOrder = {}, {}
local out = {}
for i = 4, #ARGV, 11 do
  local id, queue, task = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local key = jkey(id)
  -- load() deletes an earlier job of this id whose TTL has passed, with its index entries.
  if load(id) then
    out[#out + 1] = redis.call('HGETALL', key)
  else
    local runAt = ARGV[i + 5]
    local createdAt = ARGV[i + 9]
    local state = 'waiting'
    if tonumber(runAt) > NOW then state = 'delayed' end
    local fields = { 'id', id, 'queue', queue, 'task', task, 'input', ARGV[i + 3], 'state', state,
      'priority', ARGV[i + 4], 'attempt', 0, 'maxAttempts', ARGV[i + 6], 'createdAt', createdAt,
      'runAt', runAt }
    if ARGV[i + 7] ~= '' then fields[#fields + 1] = 'backoff'; fields[#fields + 1] = ARGV[i + 7] end
    if ARGV[i + 8] ~= '' then fields[#fields + 1] = 'timeoutMs'; fields[#fields + 1] = ARGV[i + 8] end
    if ARGV[i + 10] ~= '' then fields[#fields + 1] = 'meta'; fields[#fields + 1] = ARGV[i + 10] end
    redis.call('HSET', key, unpack(fields))
    gather('SADD', skey(queue, state), id)
    gather('ZADD', CV .. 'all', createdAt, id)
    gather('ZADD', CV .. 'q:' .. queue, createdAt, id)
    if not batches['SADD\0' .. CV .. 'queues\0' .. queue] then
      batches['SADD\0' .. CV .. 'queues\0' .. queue] = true
      redis.call('SADD', CV .. 'queues', queue)
    end
    gather('HSET', bq(queue, 'jobs'), id, bqData(task, createdAt))
    if state == 'delayed' then
      redis.call('ZADD', bq(queue, 'delayed'), runAt, id)
      -- As addDelayedJob does: a new head wakes the workers' timers.
      local head = redis.call('ZRANGE', bq(queue, 'delayed'), 0, 0)
      if head[1] == id then redis.call('PUBLISH', bq(queue, 'earlierDelayed'), runAt) end
    else
      -- In order: one LPUSH of many ids leaves the first at the tail, where workers take from.
      gather('LPUSH', bq(queue, 'waiting'), id)
    end
    if not added[queue] then
      added[queue] = {}
      addedOrder[#addedOrder + 1] = queue
    end
    local ids = added[queue]
    ids[#ids + 1] = id
    out[#out + 1] = 1
  end
end

-- Lua's unpack takes a bounded number of values: send long batches in slices.
for _, batch in ipairs(order) do
  local args = batch.args
  -- An even slice length keeps ZADD's score/member and HSET's field/value pairs together.
  for from = 1, #args, 1000 do
    redis.call(batch.command, batch.key, unpack(args, from, math.min(from + 999, #args)))
  end
end
-- One `added` event per job, or per queue one message for all of a bulk add's jobs (the ids
-- under `conveyor.ids`; `id` is the first): a PUBLISH per call, not per job.
for _, queue in ipairs(addedOrder) do
  local ids = added[queue]
  if #ids == 1 then
    publish(queue, ids[1], 'added', nil, nil)
  else
    publish(queue, ids[1], 'added', nil, ',"ids":' .. cjson.encode(ids))
  end
end
return out
