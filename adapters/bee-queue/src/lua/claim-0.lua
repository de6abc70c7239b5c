--[[
  claim-0: a Bee-Queue worker took job `id` off the waiting list; makes the Conveyor record active.

  ARGV[1..3]  CV, BQ, now
  ARGV[4]     job id
  ARGV[5]     worker id
  ARGV[6]     claim token: unique per delivery by Bee-Queue, so a repeated call (its answer lost
              with the connection) is told apart from a second delivery of a stalled job
  ARGV[7]     optional: the job's queue, when the claim is the worker's take of the job (in place
              of Bee-Queue's own HGET of its job data) and renews the job against stalling (in
              place of Bee-Queue's first SREM); a job that must not run ('gone', 'skip') also
              leaves Bee-Queue's active list here

  Returns     the record's HGETALL once active; 'gone' when there is no record (removed, expired,
              or not a Conveyor job); 'skip' when it must not run (finished or cancelled).
              With ARGV[7]: { Bee-Queue's job JSON (only when the answer is a string) or '',
              that answer }
]]
-- @include common
-- @include claim
local id, workerId, token = ARGV[4], ARGV[5], ARGV[5] .. '/' .. ARGV[6]
if ARGV[7] then return take(id, workerId, token, ARGV[7]) end
return claim(id, workerId, token)
