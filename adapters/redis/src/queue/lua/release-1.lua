--[[
  release-1: hands running jobs back without finishing them (a consumer closing without
  draining): waiting again with the attempt not counted, or cancelled when a cancel was asked.

  KEYS[1]  base .. 'events'
  ARGV[1]  base · ARGV[2] now · ARGV[3] MAXLEN · ARGV[4] workerId
  ARGV[5…] pairs: id, attempt

  Returns  the number of jobs released
]]
-- @include common
local base, now, maxlen, workerId = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local released = 0
for i = 5, #ARGV, 2 do
  local id = ARGV[i]
  local key = jkey(base, id)
  local job = redis.call('HMGET', key, 'state', 'workerId', 'attempt', 'queue', 'cx', 'runAt', 'priority')
  if job[1] == 'active' and job[2] == workerId and job[3] == ARGV[i + 1] then
    local queue = job[4]
    redis.call('ZREM', qkey(base, queue, 'a'), id)
    if job[5] == '1' then
      toCancelled(base, id, key, queue, now, nil, maxlen, job[3], nil)
    else
      local attempt = math.max(0, tonumber(job[3]) - 1)
      redis.call('HSET', key, 'attempt', attempt)
      redis.call('HDEL', key, 'workerId')
      toWaiting(base, id, key, queue, job[6], job[7])
      emit(base, maxlen, 'waiting', id, queue, now, attempt, nil)
    end
    released = released + 1
  end
end
return released
