-- Check a typed code against a verification and, on a match, claim it.
-- KEYS[1]  vf:{<id>}
-- ARGV[1]  purpose the caller expects (register | login)
-- ARGV[2]  HMAC of the typed code, hex
-- ARGV[3]  now, ms
-- ARGV[4]  claim token
-- ARGV[5]  claim lease, ms
-- ARGV[6]  fingerprint the verification must have been started with, or '' for any
-- Returns {outcome, attempts_left, destination pseudonym, …}: with `ok`, the payload (the
-- `p:` fields, without their prefix) as name, value, …; with `locked_now`, the channel,
-- masked destination and country, for the failure event. Outcomes:
-- ok, wrong, locked_now, expired, not_found, claimed, completed, locked, already_registered.
local key = KEYS[1]
local now = tonumber(ARGV[3])
local f = redis.call('HMGET', key, 'purpose', 'status', 'code_hash', 'code_exp', 'attempts', 'claim_exp', 'dest', 'fp',
  'silent')
local purpose, status, code_hash, code_exp, attempts, claim_exp, dest, fp, silent =
  f[1], f[2], f[3], tonumber(f[4]), tonumber(f[5]), tonumber(f[6]), f[7], f[8], f[9]

if purpose ~= ARGV[1] then return {'not_found', 0, ''} end
if ARGV[6] ~= '' and fp ~= ARGV[6] then return {'not_found', 0, ''} end
if status == 'claimed' and claim_exp > now then return {'claimed', attempts, dest} end
if status ~= 'code_sent' and status ~= 'claimed' then return {status, attempts, dest} end
if not code_hash or code_exp <= now then return {'expired', attempts, dest} end

-- Both sides are 64 hex characters; compare every byte so time says nothing.
local typed, diff = ARGV[2], 0
if #typed ~= #code_hash then diff = 1 end
for i = 1, #code_hash do
  diff = bit.bor(diff, bit.bxor(string.byte(code_hash, i), string.byte(typed, i) or 0))
end
-- A silent verification's code was never sent: it is checked like any other and never matches.
if silent == '1' then diff = 1 end

if diff == 0 then
  redis.call('HSET', key, 'status', 'claimed', 'claim', ARGV[4], 'claim_exp', now + tonumber(ARGV[5]))
  local result = {'ok', attempts, dest}
  local all = redis.call('HGETALL', key)
  for i = 1, #all, 2 do
    if string.sub(all[i], 1, 2) == 'p:' then
      result[#result + 1] = string.sub(all[i], 3)
      result[#result + 1] = all[i + 1]
    end
  end
  return result
end

attempts = redis.call('HINCRBY', key, 'attempts', -1)
if attempts <= 0 then
  -- Locked for good: nothing that could still complete it, and no personal data, stays.
  local doomed = {'code_hash', 'prev_hash', 'prev_exp', 'prev_resend_at', 'to'}
  for _, name in ipairs(redis.call('HKEYS', key)) do
    if string.sub(name, 1, 2) == 'p:' then doomed[#doomed + 1] = name end
  end
  local facts = redis.call('HMGET', key, 'channel', 'masked', 'p:country_code')
  redis.call('HSET', key, 'status', 'locked')
  redis.call('HDEL', key, unpack(doomed))
  return {'locked_now', 0, dest, facts[1], facts[2], facts[3]}
end
return {'wrong', attempts, dest}
