-- wrk script for `Benchmarks/bench api`: profile reads through the profile API.
--   wrk ... -s api_under_ingest.lua URL -- TOKEN MODE IDS_FILE SITE
-- MODE get: GET /v1/profiles/{id} for random ids from IDS_FILE (one uuid per line);
-- MODE search: GET /v1/profiles with a filter, a full-text query or a sort, in turn.
-- done() prints "RESULT {json}" as events.lua does.
local ids, mode, site = {}, "get", ""
local n = 0
local searches = {
  "/v1/profiles?site=%s&limit=20&stage=known",
  "/v1/profiles?site=%s&limit=20&q=Person",
  "/v1/profiles?site=%s&limit=20&sort=-lead_score",
  "/v1/profiles?site=%s&limit=20&fields.job_title=CTO",
}

function init(args)
  wrk.headers["Authorization"] = "Bearer " .. args[1]
  mode = args[2]
  for line in io.lines(args[3]) do table.insert(ids, line) end
  site = args[4]
  math.randomseed(os.time() + #ids)
end

function request()
  n = n + 1
  if mode == "get" then
    return wrk.format("GET", "/v1/profiles/" .. ids[math.random(#ids)])
  end
  return wrk.format("GET", string.format(searches[(n % #searches) + 1], site))
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"bytes":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,' ..
    '"status_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
