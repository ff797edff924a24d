-- wrk script: GET /tasks/record with a new key per request (KEY_PREFIX .. n; run wrk with
-- -t1 so the counter is the only one), and one machine-readable line at the end of a run.
local n = 0
local prefix = os.getenv("KEY_PREFIX") or "k"
request = function()
  n = n + 1
  return wrk.format("GET", "/tasks/record?ms=0&key=" .. prefix .. n)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d seconds=%.3f p50_ms=%.2f p99_ms=%.2f connect=%d read=%d write=%d status=%d timeout=%d\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.connect, e.read, e.write, e.status, e.timeout))
end
