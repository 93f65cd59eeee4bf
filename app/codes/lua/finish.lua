-- Close a claimed verification for good, if the caller still holds its claim.
-- KEYS[1]  vf:{<id>}
-- ARGV[1]  the claim token check.lua handed out
-- ARGV[2]  the final status: completed | already_registered
-- ARGV[3]  the verification's lifetime, ms, given again from now
-- ARGV[4…] the payload's field names (`p:…`), to drop
-- Returns 1, or 0 when the claim is no longer the caller's (its lease ran out and another
-- request claimed it since, or the verification lapsed): then nothing changes. The claim
-- token stays, so that the same call made again (a retry after a lost reply) returns 1.
local key = KEYS[1]
local f = redis.call('HMGET', key, 'status', 'claim')
if f[2] ~= ARGV[1] then return 0 end
if f[1] == ARGV[2] then return 1 end
if f[1] ~= 'claimed' then return 0 end
-- The code, the address and the payload go, so that nothing in Redis can complete it
-- again; the fingerprint stays, so that a late finalisation learns it is finished.
redis.call('HSET', key, 'status', ARGV[2])
redis.call('HDEL', key, 'code_hash', 'prev_hash', 'prev_exp', 'prev_resend_at', 'to', 'claim_exp',
  unpack(ARGV, 4))
redis.call('PEXPIRE', key, tonumber(ARGV[3]))
return 1
