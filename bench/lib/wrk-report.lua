-- wrk's done() hook: one JSON line with the counts and the latency percentiles (microseconds),
-- read by bench/lib/wrk.ts. A "Connection: close" header, when wanted, comes from the command line.
-- With KPT_WRK_GRID=1 the line also carries the latency at a grid of percentiles (finer towards
-- the tail), from which bench/lib/latency.ts pools the distributions of several runs.

local function grid(latency)
  local ps = {}
  for p = 1, 89 do ps[#ps + 1] = p end
  for i = 0, 89 do ps[#ps + 1] = 90 + i / 10 end
  for i = 0, 99 do ps[#ps + 1] = 99 + i / 100 end
  local parts = {}
  for _, p in ipairs(ps) do parts[#parts + 1] = string.format('[%.2f,%d]', p, latency:percentile(p)) end
  parts[#parts + 1] = string.format('[100,%d]', latency.max)
  return table.concat(parts, ',')
end

done = function(summary, latency, requests)
  local e = summary.errors
  local extra = ''
  if os.getenv('KPT_WRK_GRID') == '1' then extra = ',"grid":[' .. grid(latency) .. ']' end
  io.write(string.format(
    'WRK_JSON {"requests":%d,"durationUs":%d,"bytes":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},"latencyUs":{"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d}%s}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9), latency.max, extra))
end
