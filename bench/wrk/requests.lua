-- wrk script of the benchmarks: every request carries a buyer's token (and, for a purchase, a
-- requestId), and every status is counted.
--   wrk ... -s bench/wrk/requests.lua <url> -- <mode> [tokens file] [run id]
-- tokens file: one JWT per line (round-robin; none: no Authorization header); run id: starts every
-- fresh requestId, so a second run's requests are new clicks, not replays of the first's. mode:
--   fresh   POST, a new requestId on every request (buyers trying again: reserve, SOLD_OUT, LIMIT_EXCEEDED)
--   replay  POST, one requestId per token (the same click sent again: answered from the stored answer)
--   get     GET of the URL's path (the read path)
-- done() prints one JSON line: requests, seconds, latency percentiles (ms), socket errors and the
-- count of each status, so the caller reads exactly what the service answered.

local tokens = {}
local mode = "fresh"
local run_id = ""
local counter = 0
local thread_id = 0
statuses = {}

local threads = {}
local next_thread = 0

function setup(thread)
  thread:set("thread_id", next_thread)
  next_thread = next_thread + 1
  table.insert(threads, thread)
end

function init(args)
  mode = args[1] or "fresh"
  run_id = args[3] or ""
  if args[2] then
    local file = assert(io.open(args[2], "r"), "tokens file " .. tostring(args[2]))
    for line in file:lines() do
      if #line > 0 then tokens[#tokens + 1] = line end
    end
    file:close()
  end
  -- Threads start at different tokens, so they do not send the same buyer at the same moment.
  counter = thread_id * 7919
end

function request()
  counter = counter + 1
  local headers = {}
  local i = 0
  if #tokens > 0 then
    i = counter % #tokens
    headers["Authorization"] = "Bearer " .. tokens[i + 1]
  end
  if mode == "get" then
    return wrk.format("GET", nil, headers, nil)
  end
  local request_id
  if mode == "replay" then
    request_id = "replay-" .. i
  else
    request_id = run_id .. "t" .. thread_id .. "-" .. counter
  end
  headers["Content-Type"] = "application/json"
  local body = '{"requestId":"' .. request_id .. '","quantity":1}'
  return wrk.format("POST", nil, headers, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local counts = {}
  for _, thread in ipairs(threads) do
    local s = thread:get("statuses")
    for status, n in pairs(s) do
      counts[status] = (counts[status] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(counts) do
    parts[#parts + 1] = string.format('"%d":%d', status, n)
  end
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"seconds":%.3f,"p50Ms":%.3f,"p90Ms":%.3f,"p99Ms":%.3f,"p999Ms":%.3f,"maxMs":%.3f,"errors":%d,"statuses":{%s}}\n',
    summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency:percentile(99.9) / 1000,
    latency.max / 1000,
    e.connect + e.read + e.write + e.timeout,
    table.concat(parts, ",")))
end
