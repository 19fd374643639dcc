-- Moves events sent since ARGV[1] (ms) from the sent set (KEYS[1]) back to the unsent set
-- (KEYS[2]) at fresh positions (KEYS[3]), for the relay to publish again.
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], '+inf')
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[3]), id)
end
return #ids
