#!/usr/bin/env python3
"""bench_pipeline2: events/s of several worker processes sharing one queue.

  tests/bench/bench_pipeline2.py BUILD_DIR DB REPOS PER_REPO WORKERS THREADS

REPOS x PER_REPO push deliveries are queued through the real receiver on DB
(a HOOKQ_DB value: an LMDB directory or a PostgreSQL URI of an empty
database) with no worker running; then WORKERS hookq-worker processes of
THREADS threads each start against fakehub (answering after 5 ms, pacing
off, check `true`) and drain the queue. Prints `events_per_s=N` and the
seconds; tests/bench/bench_backends.sh runs it per backend. Figures only.
"""

import os
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
os.environ["HOOKQ_BUILD_DIR"] = os.path.abspath(sys.argv[1])

import fakehublib  # noqa: E402
import hqlib  # noqa: E402
from hqworker import sha_for, start_worker  # noqa: E402

DB, REPOS, PER, WORKERS, THREADS = sys.argv[2], *map(int, sys.argv[3:7])
SECRET = b"bench secret"
APP_ID = 4545


def main():
    import tempfile
    tmp = tempfile.mkdtemp(prefix="hookq-bench-p2.")
    key, pub = fakehublib.make_app_key(tmp)
    hub = fakehublib.start_fakehub(tmp, "--app-id", APP_ID, "--app-public-key", pub,
                                   "--latency-ms", "5")
    api = f"http://127.0.0.1:{hub.port}"
    rcv = hqlib.start_receiver(os.path.join(tmp, "r"), secrets=[SECRET], db=DB,
                               env={"HOOKQ_MAP_SIZE": None})
    workers = []
    try:
        def send(part):
            for r in range(part, REPOS, 8):
                name = f"bench/p{r}"
                for i in range(PER):
                    body = hqlib.make_payload("push", 7000 + r, name, sha=sha_for(name, i),
                                              installation_id=7, size_kb=2)
                    st, _, _ = hqlib.post_delivery(rcv.url, "push", f"{name}-{i}", body,
                                                   secret=SECRET)
                    assert st == 202, st
        ts = [threading.Thread(target=send, args=(k,)) for k in range(8)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        total = REPOS * PER
        t0 = time.time()
        env = {"HOOKQ_WORKERS": THREADS, "HOOKQ_MAP_SIZE": None}
        for k in range(WORKERS):
            workers.append(start_worker(tmp, DB, api, APP_ID, key, check_cmd="true", env=env,
                                        name=f"w{k}"))
        while True:
            done = sum(1 for r in hub.statuses() if r["body"]["state"] != "pending")
            if done >= total:
                break
            if time.time() - t0 > 600:
                raise RuntimeError(f"only {done} of {total} events done in 600 s")
            time.sleep(0.1)
        secs = time.time() - t0
        print(f"events_per_s={total / secs:.0f}")
        print(f"seconds={secs:.1f} events={total} workers={WORKERS}x{THREADS}")
    finally:
        for w in workers:
            w.stop()
        rcv.stop()
        hub.stop()


if __name__ == "__main__":
    main()
