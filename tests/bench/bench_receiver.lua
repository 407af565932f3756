-- bench_receiver.lua: wrk script for tests/bench/bench_receiver.sh.
--
-- POSTs one signed GitHub delivery over and over, each with its own
-- X-GitHub-Delivery (the signature covers the body only, so it stays valid).
-- Environment: BENCH_BODY (file with the raw body), BENCH_SIG (the
-- X-Hub-Signature-256 value), BENCH_EVENT, BENCH_PREFIX (makes delivery ids
-- unique across runs). Prints one machine-readable RESULT line at the end.

local threads = {}
local counter = 0
local id = 0

function setup(thread)
   thread:set("tid", #threads + 1)
   table.insert(threads, thread)
end

function init(args)
   local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
   body = f:read("*a")
   f:close()
   prefix = (os.getenv("BENCH_PREFIX") or "bench") .. "-" .. tid .. "-"
   wrk.method = "POST"
   wrk.body = body
   wrk.headers["Content-Type"] = "application/json"
   wrk.headers["X-GitHub-Event"] = os.getenv("BENCH_EVENT") or "push"
   wrk.headers["X-GitHub-Hook-ID"] = "424242"
   wrk.headers["X-Hub-Signature-256"] = os.getenv("BENCH_SIG")
   wrk.headers["User-Agent"] = "GitHub-Hookshot/bench"
end

function request()
   counter = counter + 1
   wrk.headers["X-GitHub-Delivery"] = prefix .. counter
   return wrk.format()
end

function done(summary, latency, requests)
   local secs = summary.duration / 1e6
   local e = summary.errors
   io.write(string.format(
      "RESULT requests=%d seconds=%.3f req_s=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f " ..
      "max_ms=%.3f non2xx=%d sock_errors=%d\n",
      summary.requests, secs, summary.requests / secs,
      latency:percentile(50) / 1000, latency:percentile(90) / 1000,
      latency:percentile(99) / 1000, latency.max / 1000,
      e.status, e.connect + e.read + e.write + e.timeout))
end
