-- Replace an expiry notice by another, keeping its deadline (nothing if it is gone).
-- KEYS[1]  the expiry index
-- ARGV[1]  the notice to replace
-- ARGV[2]  the notice that replaces it
local deadline = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not deadline then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[1], deadline, ARGV[2])
return 1
