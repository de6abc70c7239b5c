--[[
  claim-0: a Bee-Queue worker took job `id` off the waiting list; makes the Conveyor record active.

  ARGV[1..3]  CV, BQ, now
  ARGV[4]     job id
  ARGV[5]     worker id

  Returns     the record's HGETALL once active; 'gone' when there is no record (removed, expired,
              or not a Conveyor job); 'skip' when it must not run (finished or cancelled)
]]
-- @include common
local id, workerId = ARGV[4], ARGV[5]
local state = load(id)
if not state then return 'gone' end
if TERMINAL[state] then return 'skip' end
local key = jkey(id)
-- A repeat of a claim that landed but whose answer was lost with the connection.
if state == 'active' and redis.call('HGET', key, 'workerId') == workerId then
  return redis.call('HGETALL', key)
end
local queue = redis.call('HGET', key, 'queue')
local attempt = tonumber(redis.call('HGET', key, 'attempt')) + 1
-- Bee-Queue raised it from its delayed set without a word: the job is ready now.
if state == 'delayed' or state == 'retrying' then publish(queue, id, 'waiting', attempt - 1, nil) end
move(id, queue, state, 'active')
redis.call('HSET', key, 'attempt', attempt, 'startedAt', NOW_S, 'workerId', workerId)
redis.call('HDEL', key, 'cancel', 'fin')
publish(queue, id, 'active', attempt, nil)
return redis.call('HGETALL', key)
