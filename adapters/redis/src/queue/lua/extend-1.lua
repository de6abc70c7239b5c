--[[
  extend-1: renews the leases of the jobs a consumer holds, and tells it which claims it lost
  (recovered by another worker, removed) and which jobs were asked to cancel.

  KEYS[1]  base .. 'events' (only routes the call to the prefix's slot)
  ARGV[1]  base · ARGV[2] new lease deadline (epoch ms) · ARGV[3] workerId
  ARGV[4…] pairs: id, attempt

  Returns  { lost ids, ids whose cancel was requested }
]]
-- @include common
local base, deadline, workerId = ARGV[1], ARGV[2], ARGV[3]
local lost, cancel = {}, {}
for i = 4, #ARGV, 2 do
  local id = ARGV[i]
  local job = redis.call('HMGET', jkey(base, id), 'state', 'workerId', 'attempt', 'queue', 'cx')
  if job[1] ~= 'active' or job[2] ~= workerId or job[3] ~= ARGV[i + 1] then
    lost[#lost + 1] = id
  else
    redis.call('ZADD', qkey(base, job[4], 'a'), 'XX', deadline, id)
    if job[5] == '1' then cancel[#cancel + 1] = id end
  end
end
return { lost, cancel }
