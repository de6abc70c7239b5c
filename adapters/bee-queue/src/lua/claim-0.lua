--[[
  claim-0: a Bee-Queue worker took job `id` off the waiting list; makes the Conveyor record active.

  ARGV[1..3]  CV, BQ, now
  ARGV[4]     job id
  ARGV[5]     worker id
  ARGV[6]     claim token: unique per delivery by Bee-Queue, so a repeated call (its answer lost
              with the connection) is told apart from a second delivery of a stalled job
  ARGV[7]     optional: the job's queue, when the claim also fetches Bee-Queue's job data (the
              worker claims as it takes the job, in place of Bee-Queue's own HGET) and renews the
              job against stalling (in place of Bee-Queue's first SREM); a job that must not run
              ('gone', 'skip') also leaves Bee-Queue's active list here

  Returns     the record's HGETALL once active; 'gone' when there is no record (removed, expired,
              or not a Conveyor job); 'skip' when it must not run (finished or cancelled).
              With ARGV[7]: { Bee-Queue's job JSON or '', that answer }
]]
-- @include common
local id, workerId, token = ARGV[4], ARGV[5], ARGV[5] .. '/' .. ARGV[6]
local key = jkey(id)
local function claim()
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

local answer = claim()
if ARGV[7] then
  -- Bee-Queue's first renewal against stalling, which the worker then skips.
  redis.call('SREM', bq(ARGV[7], 'stalling'), id)
  if type(answer) == 'string' then
    -- The job must not run: off Bee-Queue's active list here, and the worker writes nothing.
    redis.call('LREM', bq(ARGV[7], 'active'), 0, id)
  end
  return { redis.call('HGET', bq(ARGV[7], 'jobs'), id) or '', answer }
end
return answer
