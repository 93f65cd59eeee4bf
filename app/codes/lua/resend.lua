-- Take one resend of a verification and put a new code in place of the current one.
-- KEYS[1]  vf:{<id>}
-- ARGV[1]  purpose the caller expects
-- ARGV[2]  HMAC of the new code, hex
-- ARGV[3]  now, ms
-- ARGV[4]  code lifetime, ms
-- ARGV[5]  cooldown before the next resend, ms
-- Returns name, value, … pairs, `outcome` first:
--   ok: expires_in, resend_in (seconds, rounded up), attempts_left, resends_left, channel, masked,
--       address, locale, pseudonym, country, silent ('1' when its codes are never sent)
--   too_soon: retry_after (seconds, rounded up)
--   exhausted: first_refusal (1 the first time resends are refused), channel, masked, country
--   not_found, claimed, completed, locked, already_registered: nothing more
-- The previous code is kept aside so that restore.lua can undo this if the send fails.
local key = KEYS[1]
local now = tonumber(ARGV[3])
local f = redis.call('HMGET', key, 'purpose', 'status', 'claim_exp', 'resends', 'resend_at', 'attempts', 'code_hash',
  'code_exp', 'channel', 'masked', 'to', 'locale', 'dest', 'p:country_code', 'silent')
local purpose, status, claim_exp, resends, resend_at, attempts =
  f[1], f[2], tonumber(f[3]), tonumber(f[4]), tonumber(f[5]), tonumber(f[6])

if purpose ~= ARGV[1] then return {'outcome', 'not_found'} end
if status == 'claimed' and claim_exp > now then return {'outcome', 'claimed'} end
if status ~= 'code_sent' and status ~= 'claimed' then return {'outcome', status} end
if resends <= 0 then
  return {'outcome', 'exhausted', 'first_refusal', redis.call('HSETNX', key, 'refused', 1),
    'channel', f[9], 'masked', f[10], 'country', f[14] or false}
end
if resend_at > now then return {'outcome', 'too_soon', 'retry_after', math.ceil((resend_at - now) / 1000)} end

-- A code never outlives its verification.
local lifetime = math.min(tonumber(ARGV[4]), redis.call('PTTL', key))
local cooldown = tonumber(ARGV[5])
redis.call('HSET', key,
  'prev_hash', f[7] or '', 'prev_exp', f[8] or 0, 'prev_resend_at', resend_at,
  'code_hash', ARGV[2], 'code_exp', now + lifetime,
  'resends', resends - 1, 'resend_at', now + cooldown,
  'status', 'code_sent')
return {'outcome', 'ok', 'expires_in', math.ceil(lifetime / 1000), 'resend_in', math.ceil(cooldown / 1000),
  'attempts_left', attempts,
  'resends_left', resends - 1, 'channel', f[9], 'masked', f[10], 'address', f[11], 'locale', f[12],
  'pseudonym', f[13], 'country', f[14] or false, 'silent', f[15] or false}
