-- Moves published outbox ids (ARGV[2..]) from the unsent set (KEYS[1]) to the sent set
-- (KEYS[2]), scored by when they were sent (ARGV[1], ms).
for i = 2, #ARGV do
  if redis.call('ZREM', KEYS[1], ARGV[i]) == 1 then
    redis.call('ZADD', KEYS[2], ARGV[1], ARGV[i])
  end
end
return 1
