-- wrk script: public counts of many pages, as pages showing "1,234 views" ask for them, and a
-- count of answers other than 200. `-- svg` asks for badges (/api/counter.svg) instead of JSON.
local counter = 0
local endpoint = "/api/counter"
not_ok = 0 -- global: done() reads it from each thread with thread:get
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  if args[1] == "svg" then
    endpoint = "/api/counter.svg"
  end
end

function request()
  counter = counter + 1
  return wrk.format("GET", string.format("%s?site=example.com&path=/post/%d", endpoint, counter % 4000))
end

function response(status, headers, body)
  if status ~= 200 then
    not_ok = not_ok + 1
  end
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("not_ok")
  end
  io.write(string.format("answers other than 200: %d\n", total))
  io.write(string.format("latency p50 %.2f ms, p99 %.2f ms\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
