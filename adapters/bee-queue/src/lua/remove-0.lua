--[[
  remove-0: deletes a job that is not active, from the side-store and from Bee-Queue.

  ARGV[1..3]  CV, BQ, now
  ARGV[4]     job id

  Returns     1 when deleted; 0 when missing or active
]]
-- @include common
local id = ARGV[4]
local state = load(id)
if not state or state == 'active' then return 0 end
local queue = redis.call('HGET', jkey(id), 'queue')
destroy(id, queue, state)
publish(queue, id, 'removed', nil, nil)
return 1
