-- wrk script: Plausible-style pageviews, many paths and client addresses, and a count of
-- answers other than 202 (wrk itself only counts non-2xx/3xx).
local agents = {
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
}
local counter = 0
not_accepted = 0 -- global: done() reads it from each thread with thread:get
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"n":"pageview","u":"https://example.com/post/%d?utm_source=news","d":"example.com","r":"https://www.google.com/"}',
    counter % 4000)
  local headers = {
    ["Content-Type"] = "text/plain",
    ["User-Agent"] = agents[(counter % #agents) + 1],
    ["X-Forwarded-For"] = string.format("198.51.%d.%d", math.floor(counter / 250) % 250, counter % 250),
  }
  return wrk.format("POST", nil, headers, body)
end

function response(status, headers, body)
  if status ~= 202 then
    not_accepted = not_accepted + 1
  end
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + (thread:get("not_accepted") or 0)
  end
  io.write(string.format("answers other than 202: %d\n", total))
  io.write(string.format("p50 %.2f ms, p99 %.2f ms\n", latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
