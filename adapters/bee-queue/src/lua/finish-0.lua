--[[
  finish-0: persists how an attempt ended, if the attempt is still this worker's, and finishes the
  job on Bee-Queue's side in the same call (what Bee-Queue's own finishing MULTI does): off its
  active list, into its succeeded or failed set, or back to waiting or its delayed set for a
  retry. The worker then tells Bee-Queue the job is done without a write of its own.

  ARGV[1..3]  CV, BQ, now
  ARGV[4]     job id
  ARGV[5]     worker id
  ARGV[6]     attempt
  ARGV[7]     outcome: completed | failed | retry | postpone | cancelled
  ARGV[8]     result JSON (completed) or error JSON (failed, retry, cancelled) or ''
  ARGV[9]     expiresAt or '' (completed, failed, cancelled); runAt (retry, postpone)
  ARGV[10]    the Bee-Queue queue that delivered the job
  ARGV[11]    optional: a claim token (see claim-0) to take the worker's next job with: once the
              outcome is persisted, the next job of that Bee-Queue queue moves from waiting to
              active (as the worker's BRPOPLPUSH would move it) and is claimed as claim-0 does

  Returns     1 when persisted (or already persisted by the same call); 0 when the attempt is no
              longer this worker's (released, or recovered as stalled: another delivery owns the
              Bee-Queue entry now, so it is left alone), so the outcome is dropped.
              With ARGV[11], once persisted by this call: { 1, the next job's id or '', then as
              claim-0 with a queue: its Bee-Queue job JSON or '', the claim's answer or '' }
]]
-- @include common
-- @include claim
local id, workerId, attempt, kind, payload, time, beeQueue = ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8],
  ARGV[9], ARGV[10]
local key = jkey(id)
local fin = workerId .. '/' .. attempt
-- One read for the hot path: state, attempt, workerId, queue, fin, cancel.
local f = redis.call('HMGET', key, 'state', 'attempt', 'workerId', 'queue', 'fin', 'cancel')
local state, queue = f[1], f[4]
if state ~= 'active' or f[2] ~= attempt or f[3] ~= workerId then
  -- A repeat of a call that landed but whose answer was lost with the connection.
  if state and f[5] == fin then return 1 end
  if not state then
    -- Removed while it ran: nobody else owns its Bee-Queue entry.
    redis.call('LREM', bq(beeQueue, 'active'), 0, id)
    redis.call('HDEL', bq(beeQueue, 'jobs'), id)
  end
  return 0
end
local function persist()
  -- Bee-Queue's side. A completed job needs no SREM from its stalling set: the claim removed the
  -- id, a stall check since then put it back only in the snapshot its next check deletes, and the
  -- id never comes back to the active list (a new job of the same id is added only after
  -- forgetBee, which removes it). A job that runs again does need it (below).
  redis.call('LREM', bq(beeQueue, 'active'), 0, id)
  if f[6] then redis.call('HDEL', key, 'cancel') end
  if kind == 'completed' then
    -- Bee-Queue's succeeded set is also Conveyor's index of completed jobs (skey).
    if redis.call('SMOVE', skey(queue, 'active'), skey(queue, 'completed'), id) == 0 then
      redis.call('SADD', skey(queue, 'completed'), id)
    end
    -- workerId '' (not HDEL): one write for the whole record.
    local fields = { 'state', 'completed', 'fin', fin, 'finishedAt', NOW_S, 'workerId', '' }
    if payload ~= '' then fields[#fields + 1] = 'result'; fields[#fields + 1] = payload end
    if time ~= '' then fields[#fields + 1] = 'expiresAt'; fields[#fields + 1] = time end
    redis.call('HSET', key, unpack(fields))
    if payload == '' then redis.call('HDEL', key, 'result') end
    if time ~= '' then
      redis.call('ZADD', CV .. 'expiring', time, id)
    else
      clearExpiry(id)
    end
    local data = payload
    if data == '' then data = 'null' end
    publish(queue, id, 'completed', attempt, nil, 'succeeded', data)
    return
  end
  redis.call('HSET', key, 'fin', fin, 'workerId', '')
  redis.call('SREM', bq(beeQueue, 'stalling'), id)
  if kind == 'retry' or kind == 'postpone' then
    -- As Bee-Queue requeues a retry: waiting now, or its delayed set (a new head wakes the timers).
    if tonumber(time) <= NOW then
      redis.call('LPUSH', bq(beeQueue, 'waiting'), id)
    else
      redis.call('ZADD', bq(beeQueue, 'delayed'), time, id)
      local head = redis.call('ZRANGE', bq(beeQueue, 'delayed'), 0, 0)
      if head[1] == id then redis.call('PUBLISH', bq(beeQueue, 'earlierDelayed'), time) end
    end
  else
    redis.call('SADD', bq(beeQueue, 'failed'), id)
  end
  if kind == 'failed' then
    move(id, queue, state, 'failed')
    redis.call('HSET', key, 'finishedAt', NOW_S, 'error', payload)
    setExpiry(id, time)
    publish(queue, id, 'failed', attempt, ',"error":' .. payload, 'failed', errorMessage(payload))
  elseif kind == 'retry' then
    redis.call('HSET', key, 'error', payload, 'runAt', time)
    publish(queue, id, 'retrying', attempt, ',"error":' .. payload .. ',"runAt":' .. time, 'retrying',
      errorMessage(payload))
    if tonumber(time) <= NOW then
      move(id, queue, state, 'waiting')
      publish(queue, id, 'waiting', attempt, nil)
    else
      move(id, queue, state, 'retrying')
    end
  elseif kind == 'postpone' then
    local previous = math.max(0, tonumber(attempt) - 1)
    redis.call('HSET', key, 'attempt', previous, 'runAt', time)
    publish(queue, id, 'delayed', attempt, ',"runAt":' .. time)
    if tonumber(time) <= NOW then
      move(id, queue, state, 'waiting')
      publish(queue, id, 'waiting', previous, nil)
    else
      move(id, queue, state, 'delayed')
    end
  elseif kind == 'cancelled' then
    move(id, queue, state, 'cancelled')
    redis.call('HSET', key, 'finishedAt', NOW_S)
    local extra = nil
    if payload ~= '' then
      redis.call('HSET', key, 'error', payload)
      extra = ',"error":' .. payload
    end
    setExpiry(id, time)
    publish(queue, id, 'cancelled', attempt, extra)
  end
end

persist()
if not ARGV[11] then return 1 end
-- The worker's next job, taken now rather than by a BRPOPLPUSH and a claim of their own.
local nextId = redis.call('RPOPLPUSH', bq(beeQueue, 'waiting'), bq(beeQueue, 'active'))
if not nextId then return { 1, '', '', '' } end
local taken = take(nextId, workerId, workerId .. '/' .. ARGV[11], beeQueue)
return { 1, nextId, taken[1], taken[2] }
