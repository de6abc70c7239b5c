--[[
  finish(base, now, maxlen, workerId, id, attempt, type, payload, time): persists how one
  attempt ended, mirroring applyOutcome of @conveyor/core. Only the claim that holds the job
  (same worker, same attempt, still active) may end it; returns 1 when persisted, 0 otherwise.
]]
local function finish(base, now, maxlen, workerId, id, attempt, kind, payload, time)
  local key = jkey(base, id)
  local job = redis.call('HMGET', key, 'state', 'workerId', 'attempt', 'queue', 'cx')
  if job[1] ~= 'active' or job[2] ~= workerId or job[3] ~= attempt then
    return 0
  end
  local queue = job[4]
  -- Batched with the other outcomes of the call (claim-2 flushes before it reads the sets).
  later('ZREM', qkey(base, queue, 'a'), id)
  if kind == 'completed' or kind == 'failed' then
    local field = kind == 'completed' and 'result' or 'error'
    local set = kind == 'completed' and 'c' or 'f'
    -- workerId emptied in the same HSET rather than by an HDEL more (toRecord reads '' as unset);
    -- the cancel flag only when one was set, so a job that never had one gets no field for it.
    local fields = { 'HSET', key, 'state', kind, 'finishedAt', now, 'workerId', '' }
    if job[5] and job[5] ~= '' then
      fields[#fields + 1] = 'cx'
      fields[#fields + 1] = ''
    end
    local extra = nil
    if payload ~= '' then
      fields[#fields + 1] = field
      fields[#fields + 1] = payload
      extra = { kind == 'completed' and 'r' or 'e', payload }
    end
    if time ~= '' then
      fields[#fields + 1] = 'expiresAt'
      fields[#fields + 1] = time
      later('ZADD', base .. 'expiring', time, id)
    end
    redis.call(unpack(fields))
    later('ZADD', qkey(base, queue, set), now, id)
    emit(base, maxlen, kind, id, queue, now, attempt, extra)
    return 1
  end
  redis.call('HDEL', key, 'workerId', 'cx')
  if kind == 'retry' then
    redis.call('HSET', key, 'state', 'retrying', 'error', payload, 'runAt', time)
    redis.call('ZADD', qkey(base, queue, 'r'), time, id)
    emit(base, maxlen, 'retrying', id, queue, now, attempt, { 'e', payload, 'ra', time })
    signal(base, queue)
  elseif kind == 'postpone' then
    -- The attempt did not really run: it is not counted.
    local left = redis.call('HINCRBY', key, 'attempt', -1)
    if left < 0 then
      left = 0
      redis.call('HSET', key, 'attempt', 0)
    end
    redis.call('HSET', key, 'state', 'delayed', 'runAt', time)
    redis.call('ZADD', qkey(base, queue, 'd'), time, id)
    emit(base, maxlen, 'delayed', id, queue, now, left, { 'ra', time })
    signal(base, queue)
  else
    toCancelled(base, id, key, queue, now, time, maxlen, attempt, payload)
  end
  return 1
end
