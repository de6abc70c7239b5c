--[[
  purge-0: deletes the jobs of one queue in the given states (never active), optionally only
  those at least `olderThanMs` old (finished jobs by finishedAt, others by createdAt).

  ARGV[1..3]  CV, BQ, now
  ARGV[4]     queue
  ARGV[5]     olderThanMs or ''
  ARGV[6…]    states

  Returns     how many were deleted
]]
-- @include common
prune(1000)
local queue, olderThanMs = ARGV[4], ARGV[5]
local deleted = 0
for i = 6, #ARGV do
  local state = ARGV[i]
  if state ~= 'active' then
    for _, id in ipairs(redis.call('SMEMBERS', skey(queue, state))) do
      local key = jkey(id)
      local old = true
      if olderThanMs ~= '' then
        local at = redis.call('HGET', key, 'finishedAt') or redis.call('HGET', key, 'createdAt')
        old = at ~= false and NOW - tonumber(at) >= tonumber(olderThanMs)
      end
      if old and redis.call('HGET', key, 'state') == state then
        destroy(id, queue, state)
        publish(queue, id, 'removed', nil, nil)
        deleted = deleted + 1
      elseif old and not redis.call('HGET', key, 'state') then
        -- The hash expired by itself: the index entry is all that is left.
        redis.call('SREM', skey(queue, state), id)
      end
    end
  end
end
return deleted
