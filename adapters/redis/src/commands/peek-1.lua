--[[
  peek-1: reads one key's window without changing it.

  KEYS[1]  the key's hash, as written by consume-1 (field c = consumed, field b = "1" while blocked)

  Returns  { consumed (string), blocked (1 | 0), resetMs (integer; 0 when the key has no window) }
]]
local ttl = redis.call('PTTL', KEYS[1])
if ttl <= 0 then
  return { '0', 0, 0 }
end
local state = redis.call('HMGET', KEYS[1], 'c', 'b')
local blocked = 0
if state[2] == '1' then
  blocked = 1
end
return { state[1] or '0', blocked, ttl }
