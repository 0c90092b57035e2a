-- wrk script of the benchmark suite. Environment:
--   WRK_HEADERS   extra headers, "Name: value" lines separated by "\n"
--   WRK_METHOD    request method (default GET)
--   WRK_BODY_FILE file whose contents are every request's body
--   WRK_TOKENS    file of tokens, one per line: each request carries the
--                 next one as "Authorization: Bearer <token>", round-robin
-- done() prints one line, WRKJSON {...}, with wrk's own counts and
-- latency percentiles (microseconds) for the Go side to parse.

local function readfile(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local hdrs = os.getenv("WRK_HEADERS")
if hdrs and #hdrs > 0 then
  for line in hdrs:gmatch("[^\n]+") do
    local k, v = line:match("^([^:]+):%s*(.*)$")
    if k then wrk.headers[k] = v end
  end
end
local m = os.getenv("WRK_METHOD")
if m and #m > 0 then wrk.method = m end
local bf = os.getenv("WRK_BODY_FILE")
if bf and #bf > 0 then wrk.body = readfile(bf) end

local tf = os.getenv("WRK_TOKENS")
if tf and #tf > 0 then
  local tokens = {}
  for line in io.lines(tf) do
    if #line > 0 then tokens[#tokens + 1] = "Bearer " .. line end
  end
  assert(#tokens > 0, "WRK_TOKENS: no tokens in " .. tf)
  local i = 0
  local n = #tokens
  request = function()
    i = i % n + 1
    wrk.headers["Authorization"] = tokens[i]
    return wrk.format()
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"p50":%.1f,"p90":%.1f,"p99":%.1f,"p999":%.1f,"max":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9), latency.max))
end
