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

dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")
