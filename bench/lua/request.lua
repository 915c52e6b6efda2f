-- One wrk request shape from the environment: BENCH_METHOD, BENCH_PATH, BENCH_TOKEN,
-- BENCH_ETAG (If-None-Match), BENCH_BODY. Counts answers by status for the runner.
local method = os.getenv("BENCH_METHOD") or "GET"
local path = os.getenv("BENCH_PATH") or "/"
local token = os.getenv("BENCH_TOKEN")
local etag = os.getenv("BENCH_ETAG")
local body = os.getenv("BENCH_BODY")
local headers = {}
if token and token ~= "" then headers["Authorization"] = "Bearer " .. token end
if etag and etag ~= "" then headers["If-None-Match"] = etag end
if body and body ~= "" then headers["Content-Type"] = "application/json" end
local prepared

local threads = {}
setup = function(thread) table.insert(threads, thread) end
init = function()
  statuses = {}
  -- Formatted here, not at load time: wrk fills in the Host header only once it has started.
  prepared = wrk.format(method, path, headers, body)
end

request = function() return prepared end
response = function(status) statuses[status] = (statuses[status] or 0) + 1 end

done = function(summary, latency, requests)
  local counts = {}
  for _, thread in ipairs(threads) do
    local s = thread:get("statuses")
    for code, n in pairs(s) do counts[code] = (counts[code] or 0) + n end
  end
  local parts = {}
  for code, n in pairs(counts) do table.insert(parts, string.format('"%d": %d', code, n)) end
  io.write(string.format('BENCH_JSON {"requests": %d, "seconds": %.4f, "errors": %d, "statuses": {%s}, ' ..
    '"p50_ms": %.3f, "p99_ms": %.3f}\n',
    summary.requests, summary.duration / 1e6,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    table.concat(parts, ", "), latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
