--[[
  list-1: jobs newest first (by createdAt), of one queue or of every queue, optionally only in
  some states, with offset and limit; expired jobs are forgotten first.

  KEYS[1]  base .. 'queues'  (every queue name: a listing across queues merges their indexes)
  ARGV[1]  base · ARGV[2] now · ARGV[3] queue or '' · ARGV[4] offset · ARGV[5] limit
  ARGV[6…] states ('' alone = every state)

  Returns  the jobs' HGETALLs
]]
-- @include common
local base, now, queue = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local offset, limit = tonumber(ARGV[4]), tonumber(ARGV[5])
sweep(base, now, 1000)
local wanted = nil
if #ARGV >= 6 and ARGV[6] ~= '' then
  wanted = {}
  for i = 6, #ARGV do wanted[ARGV[i]] = true end
end
-- One cursor per queue over its creation-time index, newest first; the next job is the newest
-- head across the cursors (ties as one sorted set orders them: the greater id first).
local chunk = 500
local cursors = {}
for _, name in ipairs(queue ~= '' and { queue } or redis.call('SMEMBERS', KEYS[1])) do
  cursors[#cursors + 1] = { key = qkey(base, name, 'all'), start = 0, buf = {}, pos = 1 }
end
local function head(c)
  if c.buf == false then return nil end
  if c.pos > #c.buf then
    c.buf = redis.call('ZREVRANGE', c.key, c.start, c.start + chunk - 1, 'WITHSCORES')
    c.start = c.start + chunk
    c.pos = 1
    if #c.buf == 0 then
      c.buf = false
      return nil
    end
  end
  return c.buf[c.pos], tonumber(c.buf[c.pos + 1])
end
local out, matched = {}, 0
while #out < limit do
  local best, bestId, bestScore = nil, nil, nil
  for _, c in ipairs(cursors) do
    local id, score = head(c)
    if id and (best == nil or score > bestScore or (score == bestScore and id > bestId)) then
      best, bestId, bestScore = c, id, score
    end
  end
  if best == nil then break end
  best.pos = best.pos + 2
  local key = jkey(base, bestId)
  local state = redis.call('HGET', key, 'state')
  if state and (wanted == nil or wanted[state]) then
    matched = matched + 1
    if matched > offset then out[#out + 1] = redis.call('HGETALL', key) end
  end
end
return out
