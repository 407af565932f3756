#!/usr/bin/env python3
"""test_receiver_crash: kill -9 the receiver at random moments under
concurrent load, at least 20 rounds over one database. After each restart
every delivery that was answered 2xx is in the queue (same id), a redelivery
of it is a duplicate, and the database opens cleanly."""

import os
import random
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hqlib  # noqa: E402
from hqlib import (Senders, check, make_payload, post_delivery, queue_events,  # noqa: E402
                   run_tests, start_receiver)

SECRET = b"crash-test-secret"
ROUNDS = int(os.environ.get("HOOKQ_CRASH_ROUNDS", "24"))
SENDERS = 12


def test_kill9_rounds(tmp):
    rng = random.Random(int(os.environ.get("HOOKQ_CRASH_SEED", "20261122")))
    # HOOKQ_TEST_QUEUE=postgresql: the same rounds on a PostgreSQL database.
    pg = os.environ.get("HOOKQ_TEST_QUEUE") == "postgresql"
    db = hqlib.pg_database() if pg else os.path.join(tmp, "db")
    acked = {}  # delivery -> (id, repo_id)
    total_posts = 0
    for rnd in range(ROUNDS):
        r = start_receiver(os.path.join(tmp, f"round-{rnd}"), secrets=[SECRET], db=db,
                           env={"HOOKQ_MAP_SIZE": "512MiB"})
        try:
            # The database opened: every delivery acknowledged so far is there.
            stored = {e["delivery"]: e for e in queue_events(db)}
            missing = [d for d in acked if d not in stored]
            check(not missing, f"round {rnd}: {len(missing)} acknowledged deliveries lost, "
                               f"e.g. {missing[:3]}")
            for d, (i, repo) in acked.items():
                check(stored[d]["id"] == i and stored[d]["repo_id"] == repo,
                      f"round {rnd}: {d} stored as {stored[d]} but acknowledged as id {i}")
            # A redelivery of an acknowledged delivery is a duplicate of it.
            if acked:
                d = rng.choice(sorted(acked))
                i, repo = acked[d]
                st, _, js = post_delivery(r.url, "push", d,
                                          make_payload("push", repo, f"crash/r{repo}"),
                                          secret=SECRET)
                check(st == 200 and js == {"result": "duplicate", "id": i},
                      f"round {rnd}: redelivery of {d}: {st} {js}")

            def make(k, n):
                repo = 1 + (k * 7 + n) % 16
                return (f"r{rnd}-s{k}-{n}", repo,
                        make_payload("push", repo, f"crash/r{repo}", size_kb=rng.choice([2, 8])))

            senders = Senders(r.url, SENDERS, make, SECRET)
            time.sleep(rng.uniform(0.05, 0.8))
            r.kill()
            senders.stop()
            acked.update(senders.acked)
            total_posts += senders.posted
        finally:
            r.kill()
        if pg:
            continue
        # The file is consistent for LMDB's own tool too.
        p = subprocess.run(["mdb_stat", "-a", db], capture_output=True, text=True)
        check(p.returncode == 0, f"round {rnd}: mdb_stat failed: {p.stderr}")
    check(len(acked) > ROUNDS * 10, f"too little load: {len(acked)} acknowledged")
    # A last clean start: everything acknowledged over all rounds is there.
    r = start_receiver(os.path.join(tmp, "final"), secrets=[SECRET], db=db)
    try:
        stored = {e["delivery"]: e["id"] for e in queue_events(db)}
        check(all(stored.get(d) == i for d, (i, _) in acked.items()), "final check")
        check(r.stop() == 0, "clean stop")
    finally:
        r.kill()
    print(f"  {ROUNDS} rounds, {total_posts} posts, {len(acked)} acknowledged, "
          f"{len(stored)} stored", flush=True)


if __name__ == "__main__":
    run_tests([("test_kill9_rounds", test_kill9_rounds)])
