--[[
  cancel-1: cancels a job. A pending job ends cancelled at once; an active one is flagged and
  its holder told on the cancel channel (and again on its next lease renewal).

  KEYS[1]  base .. 'events'
  ARGV[1]  base · ARGV[2] now · ARGV[3] MAXLEN · ARGV[4] id · ARGV[5] expiresAt or ''

  Returns  'cancelled' | 'requested' | 'finished' | 'not-found'
]]
-- @include common
local base, now, maxlen, id, expiresAt = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5]
sweep(base, now, 20)
local key = jkey(base, id)
local job = redis.call('HMGET', key, 'state', 'queue', 'attempt')
local state, queue = job[1], job[2]
if not state then return 'not-found' end
if state == 'completed' or state == 'failed' or state == 'cancelled' then return 'finished' end
if state == 'active' then
  redis.call('HSET', key, 'cx', '1')
  redis.call('PUBLISH', base .. 'cancel', id)
  return 'requested'
end
detach(base, id, key, queue, state)
toCancelled(base, id, key, queue, now, expiresAt, maxlen, job[3], nil)
return 'cancelled'
