#!/usr/bin/env python3
"""bench_pipeline: receiver + worker + fakehub end to end (issue 4).

  tests/bench/bench_pipeline.py BUILD_DIR [repos] [events_per_repo] [threads]

Phase 0 (pickup): 100 single deliveries to an idle worker; from the 202 to
the worker's first request for the event at fakehub.

Phase 1 (throughput): repos x events deliveries are queued through the real
receiver with the worker stopped; then a worker with THREADS threads starts
against fakehub answering after 20 ms (pacing off) and drains the queue.
Prints events/s and statuses/s beside the ideal threads / latency, the
worker's peak RSS, token requests, and LMDB commits per event.

Phase 2 (latency): a steady stream at about half the measured capacity;
received->done latency p50/p99 from the 202 to fakehub's record of the final
status.

Figures only; nothing here is a pass/fail test.
"""

import os
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
if len(sys.argv) > 1:
    os.environ["HOOKQ_BUILD_DIR"] = os.path.abspath(sys.argv[1])

import hqlib  # noqa: E402
from hqworker import Pipeline, sha_for  # noqa: E402

REPOS = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
PER = int(sys.argv[3]) if len(sys.argv) > 3 else 10
THREADS = int(sys.argv[4]) if len(sys.argv) > 4 else 64
LATENCY_MS = 20
CHECK = "true"


def vmhwm_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


class AnonPeak(threading.Thread):
    """Samples a process's anonymous RSS (its own memory, not the mapped
    database's page cache) every 20 ms; .peak_kib is the highest seen."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_kib = 0
        self.running = True

    def run(self):
        while self.running:
            try:
                for line in open(f"/proc/{self.pid}/status"):
                    if line.startswith("RssAnon:"):
                        self.peak_kib = max(self.peak_kib, int(line.split()[1]))
            except OSError:
                return
            time.sleep(0.02)


def cpu_s(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def deliver_many(p, items, nthreads=16):
    """items: (repo_id, name, delivery, sha); each repo's in order."""
    by_repo = {}
    for it in items:
        by_repo.setdefault(it[0], []).append(it)
    groups = list(by_repo.values())
    sent = {}
    lock = threading.Lock()

    def run(chunk):
        for g in chunk:
            for rid, name, d, sha in g:
                p.deliver("push", rid, name, d, sha, size_kb=4)
                with lock:
                    sent[sha] = time.time()

    ts = [threading.Thread(target=run, args=(groups[k::nthreads],)) for k in range(nthreads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sent


def main():
    import tempfile
    tmp = tempfile.mkdtemp(prefix="hq-bench-pipeline-")
    p = Pipeline(tmp, fakehub_args=["--latency-ms", LATENCY_MS])
    try:
        items = []
        for i in range(PER):
            for r in range(1, REPOS + 1):
                name = f"bench/r{r}"
                items.append((r, name, f"{name}-{i}", sha_for(name, i)))
        env = {"HOOKQ_WORKERS": THREADS, "HOOKQ_MAX_IN_FLIGHT": THREADS * 2,
               "HOOKQ_LOG_LEVEL": "warn"}
        w = p.start_worker(check_cmd=CHECK, env=env)

        # Phase 0: pickup when idle: one delivery at a time, 202 -> the
        # worker's first request for it at fakehub (its arrival time).
        pickup = []
        for i in range(100):
            sha = sha_for("bench/idle", i)
            p.deliver("push", 999999, "bench/idle", f"idle-{i}", sha, size_kb=4)
            t_ack = time.time()
            while True:
                seen = [r["t"] for r in p.hub.statuses() if r["sha"] == sha]
                if seen:
                    pickup.append(seen[0] - t_ack)
                    break
                time.sleep(0.001)
            time.sleep(0.03)
        pickup.sort()
        p.wait_drained(timeout=60)
        w.stop()
        p.workers.remove(w)
        hub_before = len(p.hub.statuses())

        t0 = time.time()
        deliver_many(p, items)
        load_s = time.time() - t0
        w = p.start_worker(check_cmd=CHECK, env=env)
        anon = AnonPeak(w.proc.pid)
        anon.start()
        t0 = time.time()
        total = REPOS * PER
        while True:
            st = hqlib.queue_stats(p.db)
            if st["queued"] == 0:
                break
            time.sleep(0.05)
        elapsed = time.time() - t0
        m = w.metrics()
        statuses = len(p.hub.statuses()) - hub_before
        tokens = len([r for r in p.hub.records() if r["route"] == "access_tokens"])
        commits = m.get("hookq_queue_commits_total", 0)
        ideal = THREADS / (LATENCY_MS / 1000.0)
        print(f"phase 0: pickup when idle (202 -> worker's first request at fakehub), "
              f"100 deliveries: p50 {pickup[50] * 1000:.1f} ms, p99 {pickup[98] * 1000:.1f} ms")
        print(f"queued {total} events through the receiver in {load_s:.1f}s "
              f"({total / load_s:.0f}/s, Python client)")
        print(f"phase 1: {REPOS} repositories x {PER} events, {THREADS} threads, "
              f"fakehub latency {LATENCY_MS} ms, pacing off")
        print(f"  events/s             {total / elapsed:10.0f}")
        print(f"  statuses/s           {statuses / elapsed:10.0f}   ideal threads/latency "
              f"{ideal:.0f}   ratio {statuses / elapsed / ideal:.0%}")
        print(f"  worker peak RSS      {vmhwm_kib(w.proc.pid) / 1024:10.1f} MiB (VmHWM; "
              f"anonymous peak {anon.peak_kib / 1024:.1f} MiB, the rest is mapped LMDB pages)")
        print(f"  CPU seconds          worker {cpu_s(w.proc.pid):.1f}, "
              f"fakehub {cpu_s(p.hub.proc.pid):.1f}, receiver {cpu_s(p.receiver.proc.pid):.1f}"
              f" in {elapsed:.1f} s wall on {os.cpu_count()} cores")
        print(f"  token requests       {tokens:10d}   (one installation)")
        print(f"  LMDB commits/event   {commits / total:10.2f}   "
              f"(worker process; {m.get('hookq_queue_commit_ops_total', 0) / total:.2f} "
              f"queue writes/event)")

        # Phase 2: a steady stream at about half capacity, latency measured.
        rate = max(10.0, total / elapsed / 2)
        n2 = int(rate * 10)
        items2 = []
        for i in range(n2):
            r = (i % REPOS) + 1
            name = f"bench/r{r}"
            items2.append((r, name, f"{name}-late-{i}", sha_for(name, 100000 + i)))
        sent = {}
        lock = threading.Lock()

        def stream(chunk, start):
            for k, (rid, name, d, sha) in enumerate(chunk):
                due = start + k * 8 / rate
                delay = due - time.time()
                if delay > 0:
                    time.sleep(delay)
                p.deliver("push", rid, name, d, sha, size_kb=4)
                with lock:
                    sent[sha] = time.time()

        start = time.time()
        ts = [threading.Thread(target=stream, args=(items2[k::8], start)) for k in range(8)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        while hqlib.queue_stats(p.db)["queued"] > 0:
            time.sleep(0.05)
        final = {}
        for r in p.hub.statuses():
            if r["body"]["state"] != "pending":
                final[r["sha"]] = r["t"]
        lat = sorted(final[s] - t for s, t in sent.items() if s in final)
        if lat:
            print(f"phase 2: steady {rate:.0f} events/s for 10 s ({len(lat)} events)")
            print(f"  received->done p50   {lat[len(lat) // 2] * 1000:10.1f} ms")
            print(f"  received->done p99   {lat[int(len(lat) * 0.99)] * 1000:10.1f} ms")
        print(f"  worker peak RSS      {vmhwm_kib(w.proc.pid) / 1024:10.1f} MiB at the end "
              f"(anonymous peak {anon.peak_kib / 1024:.1f} MiB)")
    finally:
        p.close()
        os.system(f"rm -rf '{tmp}'")


if __name__ == "__main__":
    main()
