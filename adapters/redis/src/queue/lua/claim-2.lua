--[[
  claim-2: persists the outcomes of finished attempts, then claims up to `count` ready jobs
  for one consumer, in one call (the hot path). When asked to (`maintain`), it also forgets
  expired jobs, recovers jobs whose lease ran out, promotes delayed and retrying jobs that came
  due and reports the next due time; the consumer asks for that every few tens of ms, when it
  woke up, and when a job it knows of comes due, not on every call of a busy worker.

  KEYS[1]  base .. 'events'
  KEYS[2]  base .. 'paused'  (set of paused queue names)
  ARGV[1]  base: "{<prefix>}:"
  ARGV[2]  now (epoch ms)
  ARGV[3]  event stream MAXLEN (approximate)
  ARGV[4]  workerId
  ARGV[5]  leaseMs
  ARGV[6]  count: how many jobs to claim (0 = only persist outcomes)
  ARGV[7]  n: number of outcomes that follow
  ARGV[8]  maintain: '1' to do the housekeeping above, '0' to skip it
  ARGV[9…] 5 per outcome: id, attempt, type (completed|failed|retry|postpone|cancelled),
           payload JSON (result or error) or '', time (runAt for retry/postpone, else expiresAt or '')
  then     the queue names to claim from, in order

  Returns  { claimed jobs (each its CLAIM_FIELDS, then its queue), next due time of a delayed job (-1: none, -2: not
             looked at, maintain was '0'),
             per outcome 1 when persisted or 0 when the claim was lost }
]]
-- @include common
-- @include finish
local base = ARGV[1]
local now = tonumber(ARGV[2])
local maxlen = ARGV[3]
local workerId = ARGV[4]
local deadline = now + tonumber(ARGV[5])
local count = tonumber(ARGV[6])
local n = tonumber(ARGV[7])
local maintain = ARGV[8] == '1'

local persisted = {}
local at = 9
for i = 1, n do
  persisted[i] = finish(base, now, maxlen, workerId, ARGV[at], ARGV[at + 1], ARGV[at + 2], ARGV[at + 3], ARGV[at + 4])
  at = at + 5
end
flushLater()

if maintain then sweep(base, now, 20 + 2 * count) end

local queues = {}
for i = at, #ARGV do
  local queue = ARGV[i]
  if redis.call('SISMEMBER', KEYS[2], queue) == 0 then
    queues[#queues + 1] = queue
  end
end
for _, queue in ipairs(maintain and queues or {}) do
  -- Leases that ran out: the worker is gone; the attempt counts, the job runs again.
  local active = qkey(base, queue, 'a')
  local stalled = redis.call('ZRANGEBYSCORE', active, '-inf', now, 'LIMIT', 0, 50)
  for j = 1, #stalled do
    local id = stalled[j]
    local key = jkey(base, id)
    redis.call('ZREM', active, id)
    local job = redis.call('HMGET', key, 'state', 'attempt', 'cx', 'runAt', 'priority')
    if job[1] == 'active' then
      emit(base, maxlen, 'stalled', id, queue, now, job[2], nil)
      if job[3] == '1' then
        toCancelled(base, id, key, queue, now, nil, maxlen, job[2], nil)
      else
        redis.call('HDEL', key, 'workerId')
        toWaiting(base, id, key, queue, job[4], job[5])
        emit(base, maxlen, 'waiting', id, queue, now, job[2], nil)
      end
    end
  end
  for _, set in ipairs({ 'd', 'r' }) do
    local timed = qkey(base, queue, set)
    local due = redis.call('ZRANGEBYSCORE', timed, '-inf', now, 'LIMIT', 0, 100)
    for j = 1, #due do
      local id = due[j]
      local key = jkey(base, id)
      redis.call('ZREM', timed, id)
      local job = redis.call('HMGET', key, 'runAt', 'priority', 'attempt')
      if job[1] then
        toWaiting(base, id, key, queue, job[1], job[2])
        emit(base, maxlen, 'waiting', id, queue, now, job[3], nil)
      end
    end
  end
end

local claimed = {}
-- What the handler sees of a claimed job besides what the claim sets itself (state, startedAt,
-- workerId): one HMGET in a fixed order (record.ts claimedRecord reads it back), then its queue,
-- with the new attempt patched in rather than read again after the write.
local CLAIM_FIELDS = { 'attempt', 'd', 'priority', 'runAt', 'finishedAt', 'progress', 'result', 'error', 'expiresAt' }
local function take(queue, member)
  local id = string.sub(member, 28)
  local key = jkey(base, id)
  local job = redis.call('HMGET', key, unpack(CLAIM_FIELDS))
  if not job[2] then return end
  local attempt = (tonumber(job[1]) or 0) + 1
  job[1] = attempt
  job[#CLAIM_FIELDS + 1] = queue
  redis.call('HSET', key, 'attempt', attempt, 'state', 'active', 'startedAt', ARGV[2], 'workerId', workerId)
  later('ZADD', qkey(base, queue, 'a'), deadline, id)
  emit(base, maxlen, 'active', id, queue, now, attempt, nil)
  claimed[#claimed + 1] = job
end

if count > 0 and #queues == 1 then
  local popped = redis.call('ZPOPMIN', qkey(base, queues[1], 'w'), count)
  for j = 1, #popped, 2 do
    take(queues[1], popped[j])
  end
elseif count > 0 then
  -- Several queues: the best head across them each time (priority, then runAt and arrival).
  while #claimed < count do
    local bestQueue, bestMember, bestScore
    for _, queue in ipairs(queues) do
      local head = redis.call('ZRANGE', qkey(base, queue, 'w'), 0, 0, 'WITHSCORES')
      if #head > 0 then
        local score = tonumber(head[2])
        if bestQueue == nil or score < bestScore or (score == bestScore and head[1] < bestMember) then
          bestQueue, bestMember, bestScore = queue, head[1], score
        end
      end
    end
    if bestQueue == nil then break end
    redis.call('ZREM', qkey(base, bestQueue, 'w'), bestMember)
    take(bestQueue, bestMember)
  end
end

flushLater()

-- Jobs left over wake another consumer; the earliest delayed job tells this one when to look.
local nextDue = maintain and -1 or -2
for _, queue in ipairs(queues) do
  if redis.call('ZCARD', qkey(base, queue, 'w')) > 0 then
    signal(base, queue)
  end
  for _, set in ipairs(maintain and { 'd', 'r' } or {}) do
    local first = redis.call('ZRANGE', qkey(base, queue, set), 0, 0, 'WITHSCORES')
    if #first > 0 then
      local due = tonumber(first[2])
      if nextDue == -1 or due < nextDue then nextDue = due end
    end
  end
end
return { claimed, nextDue, persisted }
