--[[
  consume-1: takes `cost` points from one key's fixed window, atomically.

  KEYS[1]  the key's hash: field c = points consumed in the window, field b = "1" while the key is
           blocked; its PTTL is the time left in the window (or the block)
  ARGV[1]  points per window
  ARGV[2]  window length, ms (integer)
  ARGV[3]  block length once refused, ms (integer; 0 = refuse until the window ends)
  ARGV[4]  cost

  Returns  { allowed (1 | 0), remaining (string), resetMs (integer), consumed (string) }

  The window opens at the key's first consume. A refused consume takes nothing. With a block, the
  block replaces the rest of the window: when it ends the key starts afresh. Numbers travel as
  strings because Redis truncates Lua numbers to integers.
]]
local points = tonumber(ARGV[1])
local durationMs = tonumber(ARGV[2])
local blockMs = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])

local ttl = redis.call('PTTL', KEYS[1])
local consumed = 0
if ttl > 0 then
  local state = redis.call('HMGET', KEYS[1], 'c', 'b')
  consumed = tonumber(state[1]) or 0
  if state[2] == '1' then
    return { 0, '0', ttl, tostring(consumed) }
  end
else
  -- No window (-2), or a key someone left without an expiry (-1): open a new window.
  if ttl == -1 then
    redis.call('DEL', KEYS[1])
  end
  redis.call('HSET', KEYS[1], 'c', 0)
  redis.call('PEXPIRE', KEYS[1], durationMs)
  ttl = durationMs
end

if consumed + cost <= points then
  consumed = consumed + cost
  redis.call('HSET', KEYS[1], 'c', consumed)
  return { 1, tostring(points - consumed), ttl, tostring(consumed) }
end

if blockMs > 0 then
  redis.call('HSET', KEYS[1], 'b', '1')
  redis.call('PEXPIRE', KEYS[1], blockMs)
  return { 0, '0', blockMs, tostring(consumed) }
end
return { 0, '0', ttl, tostring(consumed) }
