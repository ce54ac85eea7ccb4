-- wrk script for the collector benchmark: POSTs Segment events with unique messageIds.
--   wrk ... -s events.lua URL -- PATH EVENTS_PER_REQUEST AUTHORIZATION RUN_ID
-- PATH /v1/batch sends {"batch": [EVENTS_PER_REQUEST events]}; any other path sends one event.
-- done() prints one line "RESULT {json}" that Benchmarks/collector_bench.py reads.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

local path, per_request, run_id
local counter = 0
local parts = {}
local head = '{"type":"track","messageId":"'
local middle = '","anonymousId":"anon-'
local tail = '","event":"Product Viewed","properties":{"sku":"SKU-1234","price":19.99,"currency":"EUR","category":"shoes"},'
  .. '"context":{"page":{"url":"https://shop.example/p/1234","title":"Running shoe","referrer":"https://search.example/"},'
  .. '"userAgent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",'
  .. '"locale":"de-DE","consent":{"analytics":true}}}'

function init(args)
  path = args[1]
  per_request = tonumber(args[2])
  wrk.headers["Authorization"] = args[3]
  run_id = args[4]
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local base = run_id .. "-" .. tid .. "-" .. counter .. "-"
  if path == "/v1/batch" then
    for i = 1, per_request do
      parts[i] = head .. base .. i .. middle .. tid .. "-" .. ((counter * per_request + i) % 1000) .. tail
    end
    return wrk.format("POST", path, nil, '{"batch":[' .. table.concat(parts, ",", 1, per_request) .. ']}')
  end
  return wrk.format("POST", path, nil, head .. base .. middle .. tid .. "-" .. (counter % 1000) .. tail)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"bytes":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,' ..
    '"status_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
