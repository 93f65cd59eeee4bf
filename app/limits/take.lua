-- Check every limit of one request, and take from those it spends only if none refuses.
-- KEYS[i]           fixed-window counters (each key names its window; a cooldown is a counter of 1)
-- ARGV[3i-2 .. 3i]  for each counter: its limit, its window in ms, and 1 to take from it or 0 to
--                   check it only (a budget that a request which sends nothing must not spend)
-- Returns {'taken', 1} or {'taken', 0, 'retry_after_ms', ms, 'refused_by', index of the first refusing key}.
local refused, retry = 0, 0

for i = 1, #KEYS do
  local used = tonumber(redis.call('GET', KEYS[i]) or '0')
  if used >= tonumber(ARGV[3 * i - 2]) then
    local left = redis.call('PTTL', KEYS[i])
    if refused == 0 then refused = i end
    if left > retry then retry = left end
  end
end
if refused > 0 then return {'taken', 0, 'retry_after_ms', retry, 'refused_by', refused} end

for i = 1, #KEYS do
  if ARGV[3 * i] == '1' and redis.call('INCR', KEYS[i]) == 1 then
    redis.call('PEXPIRE', KEYS[i], tonumber(ARGV[3 * i - 1]))
  end
end
return {'taken', 1}
