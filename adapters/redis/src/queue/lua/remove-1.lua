--[[
  remove-1: deletes a job that is not active.

  KEYS[1]  base .. 'events'
  ARGV[1]  base · ARGV[2] now · ARGV[3] MAXLEN · ARGV[4] id

  Returns  1 when deleted, 0 when missing or active
]]
-- @include common
local base, now, maxlen, id = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
sweep(base, now, 20)
local key = jkey(base, id)
local job = redis.call('HMGET', key, 'state', 'queue', 'attempt')
if not job[1] or job[1] == 'active' then return 0 end
deleteJob(base, id, key, job[2], job[1])
emit(base, maxlen, 'removed', id, job[2], now, job[3], nil)
return 1
