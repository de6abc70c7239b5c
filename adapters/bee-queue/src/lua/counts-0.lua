--[[
  counts-0: the number of jobs per state in one queue.

  ARGV[1..3]  CV, BQ, now
  ARGV[4]     queue
  ARGV[5…]    the states, in the order the answer follows

  Returns     one count per state
]]
-- @include common
prune(1000)
local out = {}
for i = 5, #ARGV do out[#out + 1] = redis.call('SCARD', skey(ARGV[4], ARGV[i])) end
return out
