-- What every wrk script of the suite shares: count answers by status in each thread, and
-- report them with the latency percentiles as one BENCH_JSON line for bench/run.py.
-- Scripts load it with dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua").
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
