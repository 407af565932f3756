"""The whole pipeline on PostgreSQL (issue 8): fakehub, a receiver and two
worker processes on one database, as on separate hosts. Every delivery ends
with its pending and final status, per repository in order, and no
repository ever has two checks running at once across the two processes.
Skips without the tests' PostgreSQL cluster."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hqlib  # noqa: E402
from hqlib import check  # noqa: E402
from hqworker import Pipeline  # noqa: E402
from test_worker import check_order, deliver_all  # noqa: E402


def test_two_worker_processes_on_one_database(tmp):
    db = hqlib.pg_database()
    p = Pipeline(tmp, fakehub_args=["--latency-ms", "5"], db=db)
    try:
        marker = os.path.join(tmp, "runs")
        cmd = (f"sh -c 'echo start $HOOKQ_REPO >> {marker}; sleep 0.01; "
               f"echo end $HOOKQ_REPO >> {marker}'")
        p.start_worker(check_cmd=cmd, env={"HOOKQ_WORKERS": 6})
        p.start_worker(check_cmd=cmd, env={"HOOKQ_WORKERS": 6})
        order = deliver_all(p, 12, 8)
        st = p.wait_drained(timeout=180)
        check(st["dead"] == 0, f"dead letters: {st}")
        check(st["enqueued_total"] == 96 and st["done_total"] == 96, f"stats: {st}")
        check_order(p, order)
        running = set()
        for line in open(marker).read().splitlines():
            what, repo = line.split()
            if what == "start":
                check(repo not in running, f"two checks at once for {repo}")
                running.add(repo)
            else:
                running.discard(repo)
        for w in p.workers:
            done = w.metrics().get('hookq_events_total{outcome="done"}', 0)
            check(done > 0, "one worker process did nothing")
    finally:
        p.close()


if __name__ == "__main__":
    hqlib.run_tests([(n, f) for n, f in sorted(globals().items()) if n.startswith("test_")])
