-- wrk: POST one body with one extra header, as ../shared/bench/post.lua does without it. Env: WRK_PATH,
-- WRK_BODY, WRK_CT, WRK_HEADER ("Name: value"). Prints the same one JSON line.
wrk.method = "POST"
wrk.path = os.getenv("WRK_PATH") or "/invocations"
wrk.body = os.getenv("WRK_BODY") or "5.1,3.5,1.4,0.2"
wrk.headers["Content-Type"] = os.getenv("WRK_CT") or "text/csv"
local extra = os.getenv("WRK_HEADER")
if extra and extra ~= "" then
  local name, value = extra:match("^([^:]+):%s*(.*)$")
  wrk.headers[name] = value
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"rps":%.1f,"p50_us":%d,"p99_us":%d,"requests":%d,"errors":%d}\n',
    summary.requests / (summary.duration / 1e6), latency:percentile(50), latency:percentile(99),
    summary.requests, e.connect + e.read + e.write + e.status + e.timeout))
end
