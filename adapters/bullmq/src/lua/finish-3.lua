--[[
  Runs right before BullMQ's move that ends an attempt (or stores progress), on the same
  connection, so Redis runs it first. Records when a completed job's result expires and, when the
  worker did not write the attempt's `cv:active` event as it started (no subscriber was known to
  listen then) but one listens now, writes that event late: still ahead of the attempt's next
  event, so a subscriber sees every event of a job, in order.

  KEYS[1] cv:expiring zset   KEYS[2] cv:listeners zset (member → deadline, server epoch ms)
  KEYS[3] the queue's BullMQ event stream
  ARGV[1] job id   ARGV[2] expiresAt (epoch ms) or ""   ARGV[3] "1" when the attempt's active
  event is still to write   ARGV[4] attempt   ARGV[5] when the attempt started (epoch ms)
  ARGV[6] maxEvents

  Returns 1 while a subscriber listens, else 0.
]]
local rcall = redis.call
if ARGV[2] ~= "" then rcall("ZADD", KEYS[1], ARGV[2], ARGV[1]) end
local time = rcall("TIME")
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local listening = rcall("ZCOUNT", KEYS[2], now, "+inf") > 0
if listening and ARGV[3] == "1" then
  rcall("XADD", KEYS[3], "MAXLEN", "~", ARGV[6], "*", "event", "cv:active", "jobId", ARGV[1], "at", ARGV[5],
    "attempt", ARGV[4])
end
if listening then return 1 end
return 0
