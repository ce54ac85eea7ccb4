-- wrk script for the profile API benchmark (Benchmarks/api_bench.py): GETs paths drawn at random
-- from the file BENCH_PATHS with "Authorization: Bearer BENCH_TOKEN", and waits BENCH_DELAY_MS on
-- average between a connection's requests, so connections x 1000 / (BENCH_DELAY_MS + latency) is
-- the offered rate (api_bench.py subtracts the latency measured while warming up).
-- The waits are random (exponential, BENCH_ARRIVALS=poisson), so the connections' requests arrive
-- spread out as independent clients' do. With a fixed wait (BENCH_ARRIVALS=fixed) every connection
-- starts at once and they stay in step: the offered load is then bursts of `connections`
-- simultaneous requests, which is a different, harsher test.
-- done() prints one line "BENCH {json}" (latencies in ms) that api_bench.py reads.
local paths = {}
local delay_ms
local poisson

function init(args)
  for line in io.lines(os.getenv("BENCH_PATHS")) do
    if #line > 0 then paths[#paths + 1] = line end
  end
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
  delay_ms = tonumber(os.getenv("BENCH_DELAY_MS"))
  poisson = os.getenv("BENCH_ARRIVALS") ~= "fixed"
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end

function request()
  return wrk.format("GET", paths[math.random(#paths)])
end

function delay()
  if poisson then
    return -delay_ms * math.log(1 - math.random())
  end
  return delay_ms
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"achieved": %.1f, "requests": %d, "mean": %.3f, "p50": %.3f, "p95": %.3f, "p99": %.3f, "max": %.3f, "non2xx": %d, "errors": %d}\n',
    summary.requests / (summary.duration / 1e6), summary.requests, latency.mean / 1000,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    e.status, e.connect + e.read + e.write + e.timeout))
end
