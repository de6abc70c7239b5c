--[[
  prune-0: deletes finished jobs whose TTL has passed, with their index entries; every worker
  runs it on its check timer, so expired records go even when nothing is added or inspected.

  ARGV[1..3]  CV, BQ, now

  Returns     0
]]
-- @include common
prune(1000)
return 0
