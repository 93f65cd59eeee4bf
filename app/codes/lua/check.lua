-- Check a typed code against a verification and, on a match, claim it.
-- KEYS[1]  vf:{<id>}
-- ARGV[1]  purpose the caller expects (register | login)
-- ARGV[2]  HMAC of the typed code, hex
-- ARGV[3]  now, ms
-- ARGV[4]  claim token
-- ARGV[5]  claim lease, ms
-- ARGV[6]  fingerprint the verification must have been started with, or '' for any
-- Returns name, value, … pairs: outcome, attempts_left, pseudonym; with outcome `ok` also
-- payload (the `p:` fields without their prefix, as name, value, …); with `locked_now` also
-- channel, masked and country, for the failure event, and the fingerprint, to take it off its list. Outcomes:
-- ok, wrong, locked_now, expired, not_found, claimed, completed, locked, already_registered.
local key = KEYS[1]
local now = tonumber(ARGV[3])
local f = redis.call('HMGET', key, 'purpose', 'status', 'code_hash', 'code_exp', 'attempts', 'claim_exp', 'dest', 'fp',
  'silent')
local purpose, status, code_hash, code_exp, attempts, claim_exp, dest, fp, silent =
  f[1], f[2], f[3], tonumber(f[4]), tonumber(f[5]), tonumber(f[6]), f[7], f[8], f[9]

if purpose ~= ARGV[1] then return {'outcome', 'not_found'} end
if ARGV[6] ~= '' and fp ~= ARGV[6] then return {'outcome', 'not_found'} end
local function answer(outcome, ...) return {'outcome', outcome, 'attempts_left', attempts, 'pseudonym', dest, ...} end
if status == 'claimed' and claim_exp > now then return answer('claimed') end
if status ~= 'code_sent' and status ~= 'claimed' then return answer(status) end
if not code_hash or code_exp <= now then return answer('expired') end

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
  local payload = {}
  local all = redis.call('HGETALL', key)
  for i = 1, #all, 2 do
    if string.sub(all[i], 1, 2) == 'p:' then
      payload[#payload + 1] = string.sub(all[i], 3)
      payload[#payload + 1] = all[i + 1]
    end
  end
  return answer('ok', 'payload', payload)
end

attempts = redis.call('HINCRBY', key, 'attempts', -1)
if attempts > 0 then return answer('wrong') end
-- Locked for good: nothing that could still complete it, and no personal data, stays.
local doomed = {'code_hash', 'prev_hash', 'prev_exp', 'prev_resend_at', 'to'}
for _, name in ipairs(redis.call('HKEYS', key)) do
  if string.sub(name, 1, 2) == 'p:' then doomed[#doomed + 1] = name end
end
local facts = redis.call('HMGET', key, 'channel', 'masked', 'p:country_code')
redis.call('HSET', key, 'status', 'locked')
redis.call('HDEL', key, unpack(doomed))
return answer('locked_now', 'channel', facts[1] or false, 'masked', facts[2] or false, 'country', facts[3] or false,
  'fingerprint', fp or false)
