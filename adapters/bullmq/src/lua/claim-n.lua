--[[
  Claims the ids of new jobs before BullMQ adds them, in the same round trip: the adapter sends
  BullMQ's add right behind this script on the same connection, so Redis runs this first.

  KEYS[1] cv:ids hash (id → queue)   KEYS[2] cv:queues set
  then for job i (from 1): KEYS[1 + 2i] its queue's cv:all zset, KEYS[2 + 2i] its job hash
  ARGV[1] job count n, then for job i: ARGV[2 + 3(i-1)] id, ARGV[3 + 3(i-1)] queue,
  ARGV[4 + 3(i-1)] createdAt (ms); then the names of the queues to record.

  Returns, per job: 1 claimed (BullMQ's add creates it); 0 the id is this queue's already
  (BullMQ's add keeps the existing job); 2 the id is another queue's: a placeholder hash (field
  "cvp") makes BullMQ's add see a duplicate and create nothing, and the adapter deletes it once
  that add answered. Then, per queue name, 1 when the queue is new.
]]
local rcall = redis.call
local n = tonumber(ARGV[1])
local out = {}
for i = 1, n do
  local id, queue, createdAt = ARGV[3 * i - 1], ARGV[3 * i], ARGV[3 * i + 1]
  local all, job = KEYS[1 + 2 * i], KEYS[2 + 2 * i]
  if rcall("HSETNX", KEYS[1], id, queue) == 1 then
    -- A placeholder left by a process that died before deleting it must not hide this job.
    if rcall("HEXISTS", job, "cvp") == 1 then rcall("DEL", job) end
    rcall("ZADD", all, "NX", createdAt, id)
    out[i] = 1
  elseif rcall("HGET", KEYS[1], id) == queue then
    rcall("ZADD", all, "NX", createdAt, id)
    out[i] = 0
  else
    if rcall("EXISTS", job) == 0 then rcall("HSET", job, "cvp", "1") end
    out[i] = 2
  end
end
for q = 3 * n + 2, #ARGV do
  out[#out + 1] = rcall("SADD", KEYS[2], ARGV[q])
end
return out
