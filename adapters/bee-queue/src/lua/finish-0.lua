--[[
  finish-0: persists how an attempt ended, if the attempt is still this worker's.

  ARGV[1..3]  CV, BQ, now
  ARGV[4]     job id
  ARGV[5]     worker id
  ARGV[6]     attempt
  ARGV[7]     outcome: completed | failed | retry | postpone | cancelled
  ARGV[8]     result JSON (completed) or error JSON (failed, retry, cancelled) or ''
  ARGV[9]     expiresAt or '' (completed, failed, cancelled); runAt (retry, postpone)

  Returns     1 when persisted (or already persisted by the same call); 0 when the attempt is no longer this worker's (released, or
              recovered as stalled), so the outcome is dropped
]]
-- @include common
local id, workerId, attempt, kind, payload, time = ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local key = jkey(id)
local state = load(id)
if state ~= 'active' or redis.call('HGET', key, 'attempt') ~= attempt
  or redis.call('HGET', key, 'workerId') ~= workerId then
  -- A repeat of a call that landed but whose answer was lost with the connection.
  if state and redis.call('HGET', key, 'fin') == workerId .. '/' .. attempt then return 1 end
  return 0
end
local queue = redis.call('HGET', key, 'queue')
redis.call('HDEL', key, 'workerId', 'cancel')
redis.call('HSET', key, 'fin', workerId .. '/' .. attempt)
if kind == 'completed' then
  move(id, queue, state, 'completed')
  redis.call('HSET', key, 'finishedAt', NOW_S)
  if payload ~= '' then redis.call('HSET', key, 'result', payload) else redis.call('HDEL', key, 'result') end
  setExpiry(id, queue, 'completed', time)
  local data = payload
  if data == '' then data = 'null' end
  publish(queue, id, 'completed', attempt, nil, 'succeeded', data)
elseif kind == 'failed' then
  move(id, queue, state, 'failed')
  redis.call('HSET', key, 'finishedAt', NOW_S, 'error', payload)
  setExpiry(id, queue, 'failed', time)
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
else -- cancelled
  move(id, queue, state, 'cancelled')
  redis.call('HSET', key, 'finishedAt', NOW_S)
  local extra = nil
  if payload ~= '' then
    redis.call('HSET', key, 'error', payload)
    extra = ',"error":' .. payload
  end
  setExpiry(id, queue, 'cancelled', time)
  publish(queue, id, 'cancelled', attempt, extra)
end
return 1
