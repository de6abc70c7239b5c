--[[
  Cancels one job: a pending one (wait, prioritized, delayed) moves to BullMQ's failed set marked
  cancelled; an active one gets a cancel flag and a notice on the cancel channel, and its worker
  aborts it.

  KEYS[1] job hash   KEYS[2] wait       KEYS[3] paused     KEYS[4] prioritized  KEYS[5] delayed
  KEYS[6] active     KEYS[7] failed     KEYS[8] completed  KEYS[9] events       KEYS[10] meta
  KEYS[11] cv:cancelled zset  KEYS[12] cv:retrying zset  KEYS[13] cv:expiring zset
  ARGV[1] job id  ARGV[2] now (ms)  ARGV[3] expiresAt (ms) or ""  ARGV[4] cancel channel

  Returns "cancelled", "requested", "finished" or "not-found".
]]
local rcall = redis.call
local id = ARGV[1]
local now = tonumber(ARGV[2])
if rcall("EXISTS", KEYS[1]) == 0 then return "not-found" end
if rcall("ZSCORE", KEYS[8], id) or rcall("ZSCORE", KEYS[7], id) then return "finished" end
if rcall("LPOS", KEYS[6], id) then
  rcall("HSET", KEYS[1], "cvc", "1")
  rcall("PUBLISH", ARGV[4], id)
  return "requested"
end
local removed = rcall("LREM", KEYS[2], 0, id) + rcall("LREM", KEYS[3], 0, id)
  + rcall("ZREM", KEYS[4], id) + rcall("ZREM", KEYS[5], id)
if removed == 0 then return "finished" end
rcall("HSET", KEYS[1], "finishedOn", now, "failedReason", "cancelled", "cvk", "cancelled")
rcall("ZADD", KEYS[7], now, id)
rcall("ZADD", KEYS[11], now, id)
rcall("ZREM", KEYS[12], id)
if ARGV[3] ~= "" then
  rcall("HSET", KEYS[1], "cvx", ARGV[3])
  rcall("ZADD", KEYS[13], ARGV[3], id)
end
local maxEvents = tonumber(rcall("HGET", KEYS[10], "opts.maxLenEvents")) or 10000
rcall("XADD", KEYS[9], "MAXLEN", "~", maxEvents, "*", "event", "cv:cancelled", "jobId", id, "at", now)
return "cancelled"
