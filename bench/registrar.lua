-- wrk script for bench/load.py, one scenario per run, chosen by the arguments after `--`:
--   healthz              GET /healthz
--   start <first>        POST /auth/register, each request with its own Saudi mobile
--                        number, +9665 followed by 8 digits counting up from <first>
--   verify <file> <skip> POST /auth/register/<id>/verify, each request taking the next
--                        "<id> <code>" line of <file> after the first <skip> lines: a
--                        registration verifies only once
-- done() prints one line, "BENCH_JSON {...}", that bench/load.py reads. Its `used` (how many
-- requests were made, answered or not) tells the bench where the next run starts.

local mode, number = "healthz", 0
local pending = {}
local json_headers = { ["Content-Type"] = "application/json" }

-- Globals, so that done() can read them from the thread with thread:get.
statuses = {}
used = 0
ran_out = 0

function init(args)
  mode = args[1] or "healthz"
  if mode == "start" then
    number = tonumber(args[2])
  elseif mode == "verify" then
    local skip, seen = tonumber(args[3]), 0
    for line in io.lines(args[2]) do
      seen = seen + 1
      if seen > skip then
        local id, code = line:match("^(%S+) (%S+)$")
        pending[#pending + 1] = { id, code }
      end
    end
  end
end

function request()
  used = used + 1
  if mode == "start" then
    local phone = string.format("+9665%08d", number + used - 1)
    local body = '{"first_name":"Bench","phone":"' .. phone .. '","country_code":"SA","verified_by":"phone"}'
    return wrk.format("POST", "/auth/register", json_headers, body)
  elseif mode == "verify" then
    local registration = pending[used]
    if registration == nil then
      -- From here on every verify answers 409 already_completed, so the run fails visibly.
      ran_out = 1
      registration = pending[1]
    end
    local path = "/auth/register/" .. registration[1] .. "/verify"
    return wrk.format("POST", path, json_headers, '{"code":"' .. registration[2] .. '"}')
  end
  return wrk.format("GET", "/healthz")
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
end

function done(summary, latency, requests)
  local counts, made, out_of_registrations = {}, 0, 0
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      counts[status] = (counts[status] or 0) + count
    end
    made = made + thread:get("used")
    out_of_registrations = math.max(out_of_registrations, thread:get("ran_out"))
  end
  local status_json = {}
  for status, count in pairs(counts) do
    status_json[#status_json + 1] = string.format('"%d":%d', status, count)
  end
  local errors = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,'
      .. '"statuses":{%s},"socket_errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},'
      .. '"used":%d,"ran_out":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    table.concat(status_json, ","), errors.connect, errors.read, errors.write, errors.timeout,
    made, out_of_registrations
  ))
end
