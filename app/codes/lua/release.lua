-- Give back a claim whose account could not be written, so the same code works again.
-- KEYS[1]  vf:{<id>}
-- ARGV[1]  the claim token check.lua handed out
local key = KEYS[1]
local f = redis.call('HMGET', key, 'status', 'claim')
if f[1] ~= 'claimed' or f[2] ~= ARGV[1] then return 0 end
redis.call('HSET', key, 'status', 'code_sent')
redis.call('HDEL', key, 'claim', 'claim_exp')
return 1
