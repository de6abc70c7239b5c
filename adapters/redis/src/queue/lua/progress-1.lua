--[[
  progress-1: stores the progress of a running job and emits a progress event, unless the
  claim ended (then nothing changes).

  KEYS[1]  base .. 'events'
  ARGV[1]  base · ARGV[2] now · ARGV[3] MAXLEN · ARGV[4] workerId · ARGV[5] id
  ARGV[6]  attempt · ARGV[7] progress JSON

  Returns  1 when stored, 0 when the claim is no longer held
]]
-- @include common
local base, now, maxlen, workerId, id, attempt = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local key = jkey(base, id)
local job = redis.call('HMGET', key, 'state', 'workerId', 'attempt', 'queue')
if job[1] ~= 'active' or job[2] ~= workerId or job[3] ~= attempt then
  return 0
end
redis.call('HSET', key, 'progress', ARGV[7])
emit(base, maxlen, 'progress', id, job[4], now, attempt, { 'p', ARGV[7] })
return 1
