-- Appended to every scenario script by bench/run.py. wrk's own --latency table has no p95, so the
-- numbers the report needs are printed here on one machine-readable line.
local threads_seen = 0

function setup(thread)
  threads_seen = threads_seen + 1
  thread:set("tid", threads_seen)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH_RESULT requests=%d duration_us=%d p50_us=%.0f p95_us=%.0f p99_us=%.0f " ..
    "connect=%d read=%d write=%d status=%d timeout=%d\n",
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout))
end
