-- wrk script for `Benchmarks/bench ingest`: a synthetic but realistic site. Each wrk connection
-- plays visitors one after another; a visitor's session is 3 to 15 page views, each followed by a
-- dwell event, some visitors identify themselves and some chat; now and then an SDK flushes a
-- batch of 10 events. Every event has a unique messageId.
--   wrk ... -s site.lua URL -- AUTHORIZATION RUN_ID
-- done() prints "RESULT {json}" as events.lua does (Benchmarks/collector_bench.py reads it).
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

local run_id
local counter, visitor, pages_left, page_id = 0, 0, 0, nil
local paths = {"/", "/pricing", "/product/analytics", "/product/crm-sync", "/blog/postgres-queues", "/docs/install",
               "/contact", "/customers", "/product/chat-agent", "/careers"}
local chats = {"Do you integrate with HubSpot? We need pricing for 50 seats.",
               "Can I book a demo of the analytics product next week?",
               "We compared you with Segment, what is the difference?",
               "Our CRM sync fails with a timeout, can support help?"}
local agent = '"context":{"userAgent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36",'
  .. '"locale":"en-GB","consent":{"analytics":true}}'

function init(args)
  wrk.headers["Authorization"] = args[1]
  wrk.headers["Content-Type"] = "application/json"
  run_id = args[2]
  math.randomseed(tid * 7919 + os.time())
end

local function id()
  counter = counter + 1
  return run_id .. "-" .. tid .. "-" .. counter
end

local function anon()
  return "v-" .. run_id .. "-" .. tid .. "-" .. visitor
end

local function next_visitor()
  visitor = visitor + 1
  pages_left = math.random(3, 15)
  page_id = nil
end

local function page_event()
  local path = paths[math.random(#paths)]
  page_id = id()
  pages_left = pages_left - 1
  return '{"type":"page","messageId":"' .. page_id .. '","anonymousId":"' .. anon() .. '","name":"' .. path .. '",'
    .. '"properties":{"url":"https://site.example' .. path .. '","path":"' .. path .. '","title":"Page ' .. path .. '",'
    .. '"referrer":"https://search.example/"},' .. agent .. '}'
end

local function dwell_event()
  return '{"type":"track","messageId":"' .. id() .. '","anonymousId":"' .. anon() .. '","event":"Page Dwell",'
    .. '"properties":{"page_view_id":"' .. (page_id or "none") .. '","dwell_ms":' .. math.random(2000, 120000)
    .. ',"max_scroll_depth":' .. math.random(10, 100) .. '},' .. agent .. '}'
end

local function identify_event()
  return '{"type":"identify","messageId":"' .. id() .. '","anonymousId":"' .. anon() .. '",'
    .. '"traits":{"email":"' .. anon() .. '@example.com","name":"Visitor ' .. visitor .. '","job_title":"CTO"},' .. agent .. '}'
end

-- The next event of the current visitor's session (a new visitor when the session is over).
local function next_event()
  if pages_left <= 0 then next_visitor() end
  if page_id == nil or math.random() < 0.5 then return page_event() end
  if math.random() < 0.1 then return identify_event() end
  return dwell_event()
end

function request()
  local roll = math.random()
  if roll < 0.08 then
    if pages_left <= 0 then next_visitor() end
    local body = '{"conversationId":"c-' .. anon() .. '","anonymousId":"' .. anon() .. '","messages":[{"role":"user","id":"'
      .. id() .. '","text":"' .. chats[math.random(#chats)] .. '"}]}'
    return wrk.format("POST", "/api/track/chat", nil, body)
  elseif roll < 0.18 then
    local events = {}
    for i = 1, 10 do events[i] = next_event() end
    return wrk.format("POST", "/v1/batch", nil, '{"batch":[' .. table.concat(events, ",") .. ']}')
  end
  local event = next_event()
  local kind = event:match('"type":"(%a+)"')
  return wrk.format("POST", "/v1/" .. kind, nil, event)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"bytes":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,' ..
    '"status_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
