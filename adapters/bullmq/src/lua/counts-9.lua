--[[
  Counts one queue's jobs per Conveyor state. BullMQ keeps retrying jobs in its delayed set and
  cancelled jobs in its failed set; the cv:retrying and cv:cancelled sets tell them apart (their
  members that left those BullMQ sets are dropped here).

  KEYS[1] wait  KEYS[2] paused  KEYS[3] prioritized  KEYS[4] delayed  KEYS[5] active
  KEYS[6] completed  KEYS[7] failed  KEYS[8] cv:retrying zset  KEYS[9] cv:cancelled zset

  Returns { waiting, delayed, active, retrying, completed, failed, cancelled }.
]]
local rcall = redis.call
local function members(setKey, ofKey)
  local count = 0
  for _, id in ipairs(rcall("ZRANGE", setKey, 0, -1)) do
    if rcall("ZSCORE", ofKey, id) then count = count + 1 else rcall("ZREM", setKey, id) end
  end
  return count
end
local retrying = members(KEYS[8], KEYS[4])
local cancelled = members(KEYS[9], KEYS[7])
return {
  rcall("LLEN", KEYS[1]) + rcall("LLEN", KEYS[2]) + rcall("ZCARD", KEYS[3]),
  rcall("ZCARD", KEYS[4]) - retrying,
  rcall("LLEN", KEYS[5]),
  retrying,
  rcall("ZCARD", KEYS[6]),
  rcall("ZCARD", KEYS[7]) - cancelled,
  cancelled,
}
