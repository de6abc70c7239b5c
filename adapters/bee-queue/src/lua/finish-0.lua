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
local fin = workerId .. '/' .. attempt
-- One read for the hot path: state, attempt, workerId, queue, fin, cancel.
local f = redis.call('HMGET', key, 'state', 'attempt', 'workerId', 'queue', 'fin', 'cancel')
local state, queue = f[1], f[4]
if state ~= 'active' or f[2] ~= attempt or f[3] ~= workerId then
  -- A repeat of a call that landed but whose answer was lost with the connection.
  if state and f[5] == fin then return 1 end
  return 0
end
if f[6] then redis.call('HDEL', key, 'workerId', 'cancel') else redis.call('HDEL', key, 'workerId') end
if kind == 'completed' then
  redis.call('SREM', skey(queue, 'active'), id)
  redis.call('SADD', skey(queue, 'completed'), id)
  local fields = { 'state', 'completed', 'fin', fin, 'finishedAt', NOW_S }
  if payload ~= '' then fields[#fields + 1] = 'result'; fields[#fields + 1] = payload end
  if time ~= '' then fields[#fields + 1] = 'expiresAt'; fields[#fields + 1] = time end
  redis.call('HSET', key, unpack(fields))
  if payload == '' then redis.call('HDEL', key, 'result') end
  if time ~= '' then
    redis.call('PEXPIREAT', key, time)
    redis.call('ZADD', CV .. 'expiring', time, id)
    redis.call('HSET', CV .. 'where', id, queue .. '\0completed')
  else
    clearExpiry(id)
  end
  local data = payload
  if data == '' then data = 'null' end
  publish(queue, id, 'completed', attempt, nil, 'succeeded', data)
  return 1
end
redis.call('HSET', key, 'fin', fin)
if kind == 'failed' then
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
elseif kind == 'cancelled' then
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
