--[[
  Reads one BullMQ job hash with its BullMQ state, in one call.

  KEYS[1] job hash        KEYS[2] completed  KEYS[3] failed   KEYS[4] delayed
  KEYS[5] active list     KEYS[6] wait list  KEYS[7] paused   KEYS[8] prioritized
  KEYS[9] cv:expiring zset (id → expiresAt)
  ARGV[1] job id

  Returns {} when the job does not exist, else { state, expiresAt, field1, value1, ... } with
  state one of completed, failed, delayed, active, wait, prioritized, unknown, and expiresAt the
  job's score in cv:expiring or "" (a completed job's expiry is kept there only).
]]
local rcall = redis.call
local id = ARGV[1]
local flat = rcall("HGETALL", KEYS[1])
if #flat == 0 then return {} end
local state = "unknown"
if rcall("ZSCORE", KEYS[2], id) then state = "completed"
elseif rcall("ZSCORE", KEYS[3], id) then state = "failed"
elseif rcall("ZSCORE", KEYS[4], id) then state = "delayed"
elseif rcall("ZSCORE", KEYS[8], id) then state = "prioritized"
elseif rcall("LPOS", KEYS[5], id) then state = "active"
elseif rcall("LPOS", KEYS[6], id) or rcall("LPOS", KEYS[7], id) then state = "wait"
end
table.insert(flat, 1, rcall("ZSCORE", KEYS[9], id) or "")
table.insert(flat, 1, state)
return flat
