-- wrk script of `sluice bench`: POSTs the chat request with a user header
-- cycling over a number of distinct users, plus the gateway's own headers,
-- and prints the results as one JSON line. Arguments: users, then the
-- header lines "Name: value" of the gateway.
-- Generated values are filled in by the harness: BODY and USER_HEADER.

local body = [==[{{.Body}}]==]
local user_header = "{{.UserHeader}}"
local users = 1000
local n = 0
local static = {}
local counter = 1

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end

function init(args)
  users = tonumber(args[1]) or 1000
  for i = 2, #args do
    local k, v = string.match(args[i], "^([^:]+):%s*(.*)$")
    if k then static[k] = v end
  end
  static["Content-Type"] = "application/json"
  n = (tid or 1) * 104729
end

function request()
  n = n + 7919
  local h = {}
  for k, v in pairs(static) do h[k] = v end
  h[user_header] = "user-" .. (n % users)
  return wrk.format("POST", nil, h, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\nWRKJSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"p50_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max, latency.mean))
end
