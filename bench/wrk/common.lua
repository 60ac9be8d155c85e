-- Shared by the wrk scenarios: thread bookkeeping and a JSON summary on stdout.
-- Credentials come from the environment (BENCH_AUTH = "Basic ..."), set by bench/run.py.

local threads = {}
local counter = 0

function bench_setup(thread)
   counter = counter + 1
   thread:set("id", counter)
   table.insert(threads, thread)
end

function bench_done(summary, latency, requests)
   local bad, samples = 0, {}
   for _, t in ipairs(threads) do
      bad = bad + (t:get("bad") or 0)
      local s = t:get("sample")
      if s then table.insert(samples, s) end
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH_RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, ' ..
      '"connect_errors": %d, "read_errors": %d, "write_errors": %d, "status_errors": %d, ' ..
      '"timeouts": %d, "bad_bodies": %d, "threads": %d, "sample": %q}\n',
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
      e.connect, e.read, e.write, e.status, e.timeout, bad, #threads, samples[1] or ""))
end
