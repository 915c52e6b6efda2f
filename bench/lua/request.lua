-- One wrk request shape from the environment: BENCH_METHOD, BENCH_PATH, BENCH_TOKEN,
-- BENCH_ETAG (If-None-Match), BENCH_BODY, BENCH_HEADERS ("Name: value" lines). Counts
-- answers by status for the runner.
local method = os.getenv("BENCH_METHOD") or "GET"
local path = os.getenv("BENCH_PATH") or "/"
local token = os.getenv("BENCH_TOKEN")
local etag = os.getenv("BENCH_ETAG")
local body = os.getenv("BENCH_BODY")
local headers = {}
for name, value in (os.getenv("BENCH_HEADERS") or ""):gmatch("([^:\n]+): ([^\n]*)") do
  headers[name] = value
end
if token and token ~= "" then headers["Authorization"] = "Bearer " .. token end
if etag and etag ~= "" then headers["If-None-Match"] = etag end
if body and body ~= "" then headers["Content-Type"] = "application/json" end
local prepared
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

init = function()
  statuses = {}
  -- Formatted here, not at load time: wrk fills in the Host header only once it has started.
  prepared = wrk.format(method, path, headers, body)
end

request = function() return prepared end
