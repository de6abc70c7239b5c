--[[
  counts-1: the number of jobs per state in one queue, after forgetting expired jobs.

  KEYS[1]  base .. 'expiring'
  ARGV[1]  base · ARGV[2] now · ARGV[3] queue

  Returns  { waiting, delayed, active, retrying, completed, failed, cancelled }
]]
-- @include common
local base, now, queue = ARGV[1], tonumber(ARGV[2]), ARGV[3]
sweep(base, now, 1000)
local out = {}
for i, set in ipairs({ 'w', 'd', 'a', 'r', 'c', 'f', 'x' }) do
  out[i] = redis.call('ZCARD', qkey(base, queue, set))
end
return out
