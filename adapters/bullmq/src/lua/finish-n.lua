--[[
  Runs right before BullMQ's moves that end attempts (or store progress), on the same connection,
  so Redis runs it first; one call covers every job a worker finished in one turn of its event
  loop. For each job: records when a completed job's result expires and, when the worker did not
  write the attempt's `cv:active` event as it started (no subscriber was known to listen then)
  but one listens now, writes that event late: still ahead of the attempt's next event, so a
  subscriber sees every event of a job, in order.

  KEYS[1] cv:listeners zset (member → deadline, server epoch ms)
  then for job i (from 1): KEYS[2i] its queue's cv:expiring zset, KEYS[2i + 1] its queue's
  BullMQ event stream
  ARGV[1] maxEvents, then for job i: ARGV[5i - 3] id, ARGV[5i - 2] expiresAt (epoch ms) or "",
  ARGV[5i - 1] "1" when the attempt's active event is still to write, ARGV[5i] attempt,
  ARGV[5i + 1] when the attempt started (epoch ms)

  Returns 1 while a subscriber listens, else 0.
]]
local rcall = redis.call
local time = rcall("TIME")
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local listening = rcall("ZCOUNT", KEYS[1], now, "+inf") > 0
for i = 1, (#KEYS - 1) / 2 do
  local id, expiresAt = ARGV[5 * i - 3], ARGV[5 * i - 2]
  if expiresAt ~= "" then rcall("ZADD", KEYS[2 * i], expiresAt, id) end
  if listening and ARGV[5 * i - 1] == "1" then
    rcall("XADD", KEYS[2 * i + 1], "MAXLEN", "~", ARGV[1], "*", "event", "cv:active", "jobId", id, "at",
      ARGV[5 * i + 1], "attempt", ARGV[5 * i])
  end
end
if listening then return 1 end
return 0
