-- Take one resend of a verification and put a new code in place of the current one.
-- KEYS[1]  vf:{<id>}
-- ARGV[1]  purpose the caller expects
-- ARGV[2]  HMAC of the new code, hex
-- ARGV[3]  now, ms
-- ARGV[4]  code lifetime, ms
-- ARGV[5]  cooldown before the next resend, ms
-- Returns one of:
--   {'ok', expires_in_ms, resend_in_ms, attempts_left, resends_left, channel, masked, to, locale,
--    destination pseudonym, country, '1' when its codes are never sent else false}
--   {'too_soon', retry_after_ms}
--   {'exhausted', 1 the first time it is refused else 0, channel, masked, country}
--   {status} for not_found, claimed, completed, locked, already_registered
-- The previous code is kept aside so that restore.lua can undo this if the send fails.
local key = KEYS[1]
local now = tonumber(ARGV[3])
local f = redis.call('HMGET', key, 'purpose', 'status', 'claim_exp', 'resends', 'resend_at', 'attempts', 'code_hash', 'code_exp',
  'channel', 'masked', 'to', 'locale', 'dest', 'p:country_code', 'silent')
local purpose, status, claim_exp, resends, resend_at, attempts =
  f[1], f[2], tonumber(f[3]), tonumber(f[4]), tonumber(f[5]), tonumber(f[6])

if purpose ~= ARGV[1] then return {'not_found'} end
if status == 'claimed' and claim_exp > now then return {'claimed'} end
if status ~= 'code_sent' and status ~= 'claimed' then return {status} end
if resends <= 0 then
  local facts = redis.call('HMGET', key, 'channel', 'masked', 'p:country_code')
  return {'exhausted', redis.call('HSETNX', key, 'refused', 1), facts[1], facts[2], facts[3]}
end
if resend_at > now then return {'too_soon', resend_at - now} end

-- A code never outlives its verification.
local lifetime = math.min(tonumber(ARGV[4]), redis.call('PTTL', key))
local cooldown = tonumber(ARGV[5])
redis.call('HSET', key,
  'prev_hash', f[7] or '', 'prev_exp', f[8] or 0, 'prev_resend_at', resend_at,
  'code_hash', ARGV[2], 'code_exp', now + lifetime,
  'resends', resends - 1, 'resend_at', now + cooldown,
  'status', 'code_sent')
return {'ok', lifetime, cooldown, attempts, resends - 1, f[9], f[10], f[11], f[12], f[13], f[14], f[15]}
