"""The whole pipeline on PostgreSQL (issue 8): fakehub, a receiver and two
worker processes on one database, as on separate hosts. Every delivery ends
with its pending and final status, per repository in order, and no
repository ever has two checks running at once across the two processes.
Two receivers on one database store a delivery sent to both once. Skips
without the tests' PostgreSQL cluster."""

import os
import sys
import threading

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


def test_two_receivers_store_a_delivery_sent_to_both_once(tmp):
    db = hqlib.pg_database()
    secret = b"two receivers"
    a = hqlib.start_receiver(os.path.join(tmp, "a"), secrets=(secret,), db=db)
    b = hqlib.start_receiver(os.path.join(tmp, "b"), secrets=(secret,), db=db)
    try:
        results, ids = [], {}

        def post(rcv, i, body):
            st, _, js = hqlib.post_delivery(rcv.url, "push", f"both-{i}", body, secret=secret)
            results.append((st, js.get("result") if js else None))
            ids.setdefault(i, set()).add(js.get("id") if js else None)

        for i in range(20):  # each delivery to both at once
            body = hqlib.make_payload("push", 77 + i % 3, f"octo/t{i % 3}")
            ts = [threading.Thread(target=post, args=(r, i, body)) for r in (a, b)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
        check(all(st in (200, 202) for st, _ in results), f"answers: {results}")
        answers = [r for _, r in results]
        check(answers.count("accepted") == 20 and answers.count("duplicate") == 20,
              f"answers: {answers}")
        check(all(len(v) == 1 and None not in v for v in ids.values()),
              f"a duplicate did not name the first event: {ids}")
        events = hqlib.queue_events(db)
        check(sorted(e["delivery"] for e in events) == sorted(f"both-{i}" for i in range(20)),
              f"stored: {[e['delivery'] for e in events]}")
        st = hqlib.queue_stats(db)
        check(st["enqueued_total"] == 20 and st["duplicates_total"] == 20, f"stats: {st}")
    finally:
        a.stop()
        b.stop()


if __name__ == "__main__":
    hqlib.run_tests([(n, f) for n, f in sorted(globals().items()) if n.startswith("test_")])
