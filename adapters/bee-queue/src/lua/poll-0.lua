--[[
  poll-0: what became of the attempts a worker runs: still its own, asked to cancel, or lost
  (recovered as stalled, removed or expired). A safety net under the cancel channel, which a
  reconnecting subscriber may miss.

  ARGV[1..3]  CV, BQ, now
  ARGV[4]     worker id
  ARGV[5…]    pairs: job id, attempt

  Returns     one number per pair: 0 running, 1 cancel requested, 2 lost
]]
-- @include common
local workerId = ARGV[4]
local out = {}
for i = 5, #ARGV, 2 do
  local id, attempt = ARGV[i], ARGV[i + 1]
  local key = jkey(id)
  local fields = redis.call('HMGET', key, 'state', 'attempt', 'workerId', 'cancel')
  if fields[1] ~= 'active' or fields[2] ~= attempt or fields[3] ~= workerId then
    out[#out + 1] = 2
  elseif fields[4] then
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out
