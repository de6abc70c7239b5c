--[[
  list-1: jobs newest first (by createdAt), of one queue or of every queue, optionally only in
  some states, with offset and limit; expired jobs are forgotten first.

  KEYS[1]  base .. 'all'
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
local source = queue ~= '' and qkey(base, queue, 'all') or KEYS[1]
local out, matched, start, chunk = {}, 0, 0, 500
while #out < limit do
  local ids = redis.call('ZREVRANGE', source, start, start + chunk - 1)
  if #ids == 0 then break end
  for j = 1, #ids do
    local key = jkey(base, ids[j])
    local state = redis.call('HGET', key, 'state')
    if state and (wanted == nil or wanted[state]) then
      matched = matched + 1
      if matched > offset then
        out[#out + 1] = redis.call('HGETALL', key)
        if #out >= limit then break end
      end
    end
  end
  start = start + chunk
end
return out
