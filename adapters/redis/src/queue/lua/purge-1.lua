--[[
  purge-1: deletes the jobs of one queue in the given states (never active ones), optionally
  only those created (finished, for terminal states) at least olderThanMs ago.

  KEYS[1]  base .. 'events'
  ARGV[1]  base · ARGV[2] now · ARGV[3] MAXLEN · ARGV[4] queue · ARGV[5] olderThanMs or ''
  ARGV[6…] states

  Returns  the number of jobs deleted
]]
-- @include common
local base, now, maxlen, queue = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
local cutoff = ARGV[5] ~= '' and (now - tonumber(ARGV[5])) or nil
sweep(base, now, 1000)
local deleted = 0
for i = 6, #ARGV do
  local state = ARGV[i]
  local set = SET[state]
  if set and state ~= 'active' then
    local members = redis.call('ZRANGE', qkey(base, queue, set), 0, -1)
    local terminal = set == 'c' or set == 'f' or set == 'x'
    for j = 1, #members do
      local id = members[j]
      if set == 'w' then id = string.sub(id, 28) end
      local key = jkey(base, id)
      local job = redis.call('HMGET', key, 'finishedAt', 'attempt')
      local since = tonumber(redis.call('ZSCORE', qkey(base, queue, 'all'), id)) or 0
      if terminal and job[1] then since = tonumber(job[1]) end
      if cutoff == nil or since <= cutoff then
        deleteJob(base, id, key, queue, state)
        emit(base, maxlen, 'removed', id, queue, now, job[2], nil)
        deleted = deleted + 1
      end
    end
  end
end
return deleted
