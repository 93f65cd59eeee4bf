-- Check every limit of one request, and take from all of them only if none refuses.
-- KEYS[1]     the destination's cooldown key
-- KEYS[2..n]  fixed-window counters (each key names its window)
-- ARGV[1]     the cooldown, ms (0: none)
-- ARGV[2..]   for each counter: its limit, then its window, ms
-- Returns {'taken', 1} or {'taken', 0, 'retry_after_ms', ms, 'refused_by', index of the first refusing key}.
local cooldown = tonumber(ARGV[1])
local refused, retry = 0, 0

if cooldown > 0 then
  local left = redis.call('PTTL', KEYS[1])
  if left > 0 then refused, retry = 1, left end
end
for i = 2, #KEYS do
  local limit = tonumber(ARGV[2 * i - 2])
  local used = tonumber(redis.call('GET', KEYS[i]) or '0')
  if used >= limit then
    local left = redis.call('PTTL', KEYS[i])
    if refused == 0 then refused = i end
    if left > retry then retry = left end
  end
end
if refused > 0 then return {'taken', 0, 'retry_after_ms', retry, 'refused_by', refused} end

if cooldown > 0 then redis.call('SET', KEYS[1], 1, 'PX', cooldown) end
for i = 2, #KEYS do
  if redis.call('INCR', KEYS[i]) == 1 then
    redis.call('PEXPIRE', KEYS[i], tonumber(ARGV[2 * i - 1]))
  end
end
return {'taken', 1}
