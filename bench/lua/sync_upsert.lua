-- POST /api/sync/status: every request a newer version of one of BENCH_DEVICES devices, so
-- each one is an accepted update (the version grows from the start time in microseconds).
local token = os.getenv("BENCH_TOKEN")
local devices = tonumber(os.getenv("BENCH_DEVICES") or "64")
local headers = {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}
local counter = 0
local base = 0

init = function(args)
  statuses = {}
  base = tonumber(os.getenv("BENCH_VERSION_BASE"))
end

request = function()
  counter = counter + 1
  local body = string.format('{"device_id": "bench-%d", "sync_version": %d, "data_hash": "h%d"}',
    counter % devices, base + counter, counter)
  return wrk.format("POST", "/api/sync/status", headers, body)
end

local threads = {}
setup = function(thread) table.insert(threads, thread) end
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
