--[[
  upsert-2: creates a schedule, replaces its definition (and next run) when the fingerprint
  differs, or leaves it as it is.

  KEYS[1]  base .. 'schedules'        (sorted set: name by next run)
  KEYS[2]  base .. 'sch:' .. name     (hash: the schedule)
  ARGV[1]  name · ARGV[2] fingerprint · ARGV[3] definition (JSON) · ARGV[4] nextRunAt · ARGV[5] now

  Returns  { status ('created' | 'updated' | 'unchanged'), flat hash of the stored schedule }
]]
local name, fingerprint, definition, nextRunAt, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local existing = redis.call('HGET', KEYS[2], 'fp')
if existing == fingerprint then
  return { 'unchanged', redis.call('HGETALL', KEYS[2]) }
end
local status = 'created'
if existing then
  status = 'updated'
  redis.call('HDEL', KEYS[2], 'err')
else
  redis.call('HSET', KEYS[2], 'created', now)
end
redis.call('HSET', KEYS[2], 'fp', fingerprint, 'def', definition, 'next', nextRunAt, 'updated', now)
redis.call('ZADD', KEYS[1], nextRunAt, name)
return { status, redis.call('HGETALL', KEYS[2]) }
