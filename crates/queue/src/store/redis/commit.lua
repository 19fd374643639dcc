-- Saves one change of a ticket's line, or nothing (see writes.rs for the key and argument
-- layout). Returns 0 when the ticket's version moved since it was read (the caller decides
-- again on fresh data), 2 when the inbox already holds the claimed event, 1 when saved.
local v = redis.call('HGET', KEYS[1], 'v') or '0'
if v ~= ARGV[1] then return 0 end
if ARGV[6] ~= '' then
  if not redis.call('SET', KEYS[8], '1', 'NX', 'EX', ARGV[6]) then return 2 end
end
local nops = tonumber(ARGV[8])
local i = 9
for _ = 1, nops do
  local kind, user = ARGV[i], ARGV[i + 1]
  i = i + 2
  if kind == 'push' then
    redis.call('ZADD', KEYS[2], 'NX', redis.call('INCR', KEYS[4]), user)
  elseif kind == 'remove' then
    redis.call('ZREM', KEYS[2], user)
  else
    redis.call('DEL', KEYS[2])
  end
end
while i <= #ARGV do
  redis.call('ZADD', KEYS[5], redis.call('INCR', KEYS[7]), ARGV[i])
  redis.call('HSET', KEYS[6], ARGV[i], ARGV[i + 1])
  i = i + 2
end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 's', ARGV[3])
if ARGV[5] == '' then
  redis.call('ZREM', KEYS[3], ARGV[4])
else
  redis.call('ZADD', KEYS[3], ARGV[5], ARGV[4])
end
redis.call('PUBLISH', ARGV[7], ARGV[4])
return 1
