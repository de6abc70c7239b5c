--[[
  counts-0: the number of jobs per state in one queue.

  ARGV[1..3]  CV, BQ, now
  ARGV[4]     queue
  ARGV[5…]    the states, in the order the answer follows

  Returns     one count per state
]]
-- @include common
prune(1000)
local queue = ARGV[4]
-- Waiting and active jobs share one set: the active ones are those on Bee-Queue's active list.
local pending = redis.call('SCARD', skey(queue, 'waiting'))
local active = math.min(pending, redis.call('LLEN', bq(queue, 'active')))
local out = {}
for i = 5, #ARGV do
  local state = ARGV[i]
  if state == 'active' then
    out[#out + 1] = active
  elseif state == 'waiting' then
    out[#out + 1] = pending - active
  else
    out[#out + 1] = redis.call('SCARD', skey(queue, state))
  end
end
return out
