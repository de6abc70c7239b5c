--[[
  list-0: jobs newest first, optionally of one queue and in some states, with offset and limit.

  ARGV[1..3]  CV, BQ, now
  ARGV[4]     queue, or '' for every queue
  ARGV[5]     offset
  ARGV[6]     limit
  ARGV[7…]    states to keep (none: every state)

  Returns     the matching records' HGETALLs
]]
-- @include common
prune(1000)
local queue, offset, limit = ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])
local wanted = nil
if #ARGV >= 7 then
  wanted = {}
  for i = 7, #ARGV do wanted[ARGV[i]] = true end
end
local index = CV .. 'all'
if queue ~= '' then index = CV .. 'q:' .. queue end
local out, skipped, from = {}, 0, 0
while #out < limit do
  local ids = redis.call('ZREVRANGE', index, from, from + 199)
  if #ids == 0 then break end
  from = from + #ids
  for _, id in ipairs(ids) do
    local state = load(id)
    if state and (wanted == nil or wanted[state]) then
      if skipped < offset then
        skipped = skipped + 1
      elseif #out < limit then
        out[#out + 1] = redis.call('HGETALL', jkey(id))
      end
    end
  end
end
return out
