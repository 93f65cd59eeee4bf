-- Undo resend.lua after the new code could not be sent: the old code, its expiry, the
-- resend and the cooldown come back. Does nothing if another code has replaced it since.
-- KEYS[1]  vf:{<id>}
-- ARGV[1]  HMAC of the code that was not delivered
local key = KEYS[1]
local f = redis.call('HMGET', key, 'code_hash', 'prev_hash', 'prev_exp', 'prev_resend_at')
if f[1] ~= ARGV[1] then return 0 end
redis.call('HSET', key, 'code_hash', f[2], 'code_exp', f[3], 'resend_at', f[4])
redis.call('HINCRBY', key, 'resends', 1)
redis.call('HDEL', key, 'prev_hash', 'prev_exp', 'prev_resend_at')
return 1
