-- bench_receiver.lua: wrk script for tests/bench/bench_receiver.sh.
--
-- POSTs one signed GitHub delivery over and over, each with its own
-- X-GitHub-Delivery (the signature covers the body only, so it stays valid).
-- Environment: BENCH_BODY (file with the raw body), BENCH_SIG (the
-- X-Hub-Signature-256 value), BENCH_EVENT, BENCH_PREFIX (makes delivery ids
-- unique across runs). With BENCH_REPOS=N the requests cycle through N
-- repositories instead: the bodies BENCH_BODY_DIR/push-I.json, signed with
-- push-I.sig (gen_payloads.py DIR N). Prints one machine-readable RESULT
-- line at the end.

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
   nrepos = tonumber(os.getenv("BENCH_REPOS") or "0")
   bodies, sigs = {}, {}
   for i = 0, nrepos - 1 do
      local dir = os.getenv("BENCH_BODY_DIR")
      local b = assert(io.open(dir .. "/push-" .. i .. ".json", "rb"))
      bodies[i] = b:read("*a")
      b:close()
      local g = assert(io.open(dir .. "/push-" .. i .. ".sig", "rb"))
      sigs[i] = g:read("*l")
      g:close()
   end
end

function request()
   counter = counter + 1
   wrk.headers["X-GitHub-Delivery"] = prefix .. counter
   if nrepos > 0 then
      local i = counter % nrepos
      wrk.headers["X-Hub-Signature-256"] = sigs[i]
      return wrk.format(nil, nil, nil, bodies[i])
   end
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
