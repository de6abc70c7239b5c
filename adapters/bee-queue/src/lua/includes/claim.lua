--[[
  claim: the claim of a job by a worker, shared by claim-0 and finish-0 (which takes the next job
  as it finishes one). Needs common.
]]

-- Makes the record of job `id` active for `workerId` under `token` (unique per delivery, so a
-- repeated call, its answer lost with the connection, is told apart from a second delivery of a
-- stalled job). Returns the record's HGETALL once active; 'gone' when there is no record
-- (removed, expired, or not a Conveyor job); 'skip' when it must not run (finished or cancelled).
local function claim(id, workerId, token)
  local key = jkey(id)
  -- One read: the whole record, which is also the answer once updated.
  local flat = redis.call('HGETALL', key)
  local f = {}
  for i = 1, #flat, 2 do f[flat[i]] = flat[i + 1] end
  local state, queue = f.state, f.queue
  if not state then return 'gone' end
  if f.expiresAt and tonumber(f.expiresAt) <= NOW then
    destroy(id, queue, state)
    return 'gone'
  end
  if TERMINAL[state] then return 'skip' end
  if state == 'active' and f.claim == token then
    -- A repeat of this very claim, whose answer was lost with the connection.
    return flat
  end
  local attempt = tonumber(f.attempt) + 1
  if state == 'delayed' or state == 'retrying' then
    -- Bee-Queue raised it from its delayed set without a word: the job is ready now.
    publish(queue, id, 'waiting', attempt - 1, nil)
  elseif state == 'active' then
    -- Bee-Queue's stall check handed out a job whose record still names its last worker.
    publish(queue, id, 'stalled', attempt - 1, nil)
    local cancel = f.cancel
    if cancel then
      -- Its cancel was asked for while it ran: it ends cancelled instead of running again.
      redis.call('HDEL', key, 'cancel', 'workerId')
      move(id, queue, state, 'cancelled')
      redis.call('HSET', key, 'finishedAt', NOW_S)
      if cancel ~= 'keep' then setExpiry(id, cancel) end
      publish(queue, id, 'cancelled', attempt - 1, nil)
      return 'skip'
    end
  end
  reindex(id, queue, state, 'active')
  redis.call('HSET', key, 'state', 'active', 'attempt', attempt, 'startedAt', NOW_S, 'workerId', workerId,
    'claim', token)
  if f.cancel then redis.call('HDEL', key, 'cancel') end
  publish(queue, id, 'active', attempt, nil)
  f.state, f.attempt, f.startedAt, f.workerId, f.claim, f.cancel = 'active', tostring(attempt), NOW_S, workerId, token, nil
  local out = {}
  for field, value in pairs(f) do
    out[#out + 1] = field
    out[#out + 1] = value
  end
  return out
end

-- The claim of a job a Bee-Queue worker of `beeQueue` took off its waiting list (in place of
-- Bee-Queue's own HGET of the job data), which also renews the job against stalling (in place of
-- Bee-Queue's first SREM); a job that must not run ('gone', 'skip') also leaves Bee-Queue's
-- active list here, and its worker writes nothing. Returns { Bee-Queue's job JSON or '', the
-- claim's answer }: the JSON only for a job that must not run (it tells a job plain Bee-Queue
-- added); the worker makes a claimed job's from its record.
local function take(id, workerId, token, beeQueue)
  local answer = claim(id, workerId, token)
  redis.call('SREM', bq(beeQueue, 'stalling'), id)
  if type(answer) ~= 'string' then return { '', answer } end
  redis.call('LREM', bq(beeQueue, 'active'), 0, id)
  return { redis.call('HGET', bq(beeQueue, 'jobs'), id) or '', answer }
end
