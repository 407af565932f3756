"""PostgreSQL crashed and restarted under load (issue 8): a receiver and two
worker processes run on one database while deliveries arrive; the server is
stopped with pg_ctl restart -m immediate (a crash and recovery) in the
middle. The services reconnect by themselves; a delivery answered 503
meanwhile is sent again, as GitHub's redelivery would. Every acknowledged
delivery ends with its final status, per repository in order (a lease lost
in the crash may run an event once more: its statuses then repeat, never
overtake). Runs on a cluster of its own; skips without PostgreSQL.

And the enqueue's commit under a server crash: the receiver's COMMIT
releases its locks before the WAL flush and answers only after a later
synchronous commit flushed past it (design §7.2). A crash of the server
(an immediate stop) loses what is still in its WAL buffers, so with the WAL
writer held back (wal_writer_delay 10 s, buffers that do not wrap) a
delivery answered before its commit was flushed is lost by the next crash.
Every delivery answered 2xx must be in the queue after each of many crashes
at random moments under load; the control, the receiver with HOOKQ_SYNC=false
(no synchronous commit at all), must lose some, or the rounds prove
nothing."""

import os
import random
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hqlib  # noqa: E402
from hqlib import check  # noqa: E402
from hqworker import Pipeline, sha_for  # noqa: E402

REPOS, PER_REPO = 8, 10


def _cluster(cmd, d):
    script = os.path.join(hqlib.source_dir(), "tests", "tools", "pg_cluster.sh")
    subprocess.run([script, cmd, d], check=True, capture_output=True, timeout=60)


REFUSED = [0]  # answers other than an acknowledgement, for the log


def _send(p, name, rid, i, sha, deadline):
    """Posts one delivery until the receiver acknowledges it."""
    body = hqlib.make_payload("push", rid, name, sha=sha, installation_id=7, size_kb=1)
    while time.time() < deadline:
        try:
            st, _, _ = hqlib.post_delivery(p.receiver.url, "push", f"{name}-{i}", body,
                                           secret=p.SECRET)
        except OSError:
            st = None
        if st in (200, 202):
            return True
        check(st in (None, 503), f"{name}-{i}: answered {st}")
        REFUSED[0] += 1
        time.sleep(0.2)
    return False


def test_crash_and_restart_under_load(tmp):
    hqlib.pg_database()  # skips without the tests' cluster
    os.chmod(tmp, 0o711)  # the server's user must reach its directory
    d = os.path.join(tmp, "pg")
    _cluster("start", d)
    p = None
    try:
        with open(os.path.join(d, "uri")) as f:
            uri = f.read().strip() + "/postgres"
        p = Pipeline(tmp, fakehub_args=["--latency-ms", "2"], db=uri)
        for _ in range(2):
            p.start_worker(env={"HOOKQ_WORKERS": 4, "HOOKQ_LEASE": "2s"})
        order = {f"octo/c{r}": [sha_for(f"octo/c{r}", i) for i in range(PER_REPO)]
                 for r in range(1, REPOS + 1)}
        acked = {name: 0 for name in order}
        errors = []
        deadline = time.time() + 120

        def run(name):
            try:
                rid = 5000 + int(name[6:])
                for i, sha in enumerate(order[name]):
                    if not _send(p, name, rid, i, sha, deadline):
                        errors.append(f"{name}-{i} never acknowledged")
                        return
                    acked[name] += 1
                    time.sleep(0.05)
            except Exception as e:  # surfaced below
                errors.append(e)

        ts = [threading.Thread(target=run, args=(n,)) for n in order]
        for t in ts:
            t.start()
        while sum(acked.values()) < REPOS * PER_REPO // 3 and time.time() < deadline:
            time.sleep(0.05)
        _cluster("restart", d)
        for t in ts:
            t.join()
        check(not errors, f"sending failed: {errors[:2]}")
        p.wait_drained(timeout=120)
        got = {}
        for r in p.hub.statuses():
            if r["body"]["state"] == "success":
                seq = got.setdefault(r["repo"], [])
                if not seq or seq[-1] != r["sha"]:
                    seq.append(r["sha"])  # an event run again repeats, in place
        for name, shas in order.items():
            check(got.get(name) == shas,
                  f"{name}: final statuses {got.get(name, [])[:4]}... want {shas[:4]}...")
        for w in p.workers:
            check(w.proc.poll() is None, "a worker died with the database")
        print(f"  {REFUSED[0]} deliveries refused during the crash, sent again", flush=True)
    finally:
        if p is not None:
            p.close()
        _cluster("stop", d)


CRASH_ROUNDS = int(os.environ.get("HOOKQ_PG_CRASH_ROUNDS", "8"))
CRASH_SECRET = b"pg-crash-secret"


def _crash_rounds(tmp, rounds, env):
    """rounds crashes of a cluster whose WAL writer is held back, each at a
    random moment while 8 senders post to a receiver; returns (acknowledged,
    lost): deliveries answered 2xx, and those of them not in the queue, with
    their id, after the last recovery."""
    hqlib.pg_database()  # skips without the tests' cluster
    os.chmod(tmp, 0o711)
    d = os.path.join(tmp, "pg")
    _cluster("start", d)
    try:
        with open(os.path.join(d, "uri")) as f:
            uri = f.read().strip() + "/postgres"
        for setting in ("wal_writer_delay = '10s'", "wal_writer_flush_after = '1GB'",
                        "wal_buffers = '64MB'", "synchronous_commit = on"):
            hqlib.pg_sql(uri, f"ALTER SYSTEM SET {setting}")
        _cluster("restart", d)  # wal_buffers takes a restart
        check(hqlib.pg_sql(uri, "SHOW wal_writer_delay").strip() == "10s", "settings not taken")
        rng = random.Random(20261203)
        body = hqlib.make_payload("push", 4242, "crash/r", size_kb=2)
        acked = {}
        for k in range(rounds):
            def make(s, n, k=k):
                return f"c{k}-s{s}-{n}", 4242, body

            r = hqlib.start_receiver(os.path.join(tmp, f"r{k}"), secrets=[CRASH_SECRET],
                                     db=uri, env=env)
            senders = hqlib.Senders(r.url, 8, make, CRASH_SECRET)
            try:
                time.sleep(rng.uniform(0.2, 0.7))
                _cluster("halt", d)  # the crash: the WAL buffers are gone
            finally:
                senders.stop()
                r.kill()
            acked.update(senders.acked)
            _cluster("resume", d)
        stored = {}
        for line in hqlib.pg_sql(uri, "SELECT delivery, event_id FROM hq_dedup").splitlines():
            dv, _, i = line.partition("|")
            stored[dv] = int(i)
        lost = [dv for dv, (i, _repo) in acked.items() if stored.get(dv) != i]
        return acked, lost
    finally:
        _cluster("stop", d)


def test_acknowledged_enqueues_survive_server_crashes(tmp):
    acked, lost = _crash_rounds(tmp, CRASH_ROUNDS, {})
    print(f"  {CRASH_ROUNDS} crashes, {len(acked)} deliveries acknowledged, {len(lost)} lost",
          flush=True)
    check(len(acked) >= CRASH_ROUNDS * 20, f"too little load to prove anything: {len(acked)}")
    check(not lost, f"acknowledged and lost: {lost[:5]}")


def test_control_without_synchronous_commit_loses(tmp):
    acked, lost = _crash_rounds(tmp, 5, {"HOOKQ_SYNC": "false"})
    print(f"  control: {len(acked)} acknowledged, {len(lost)} lost", flush=True)
    check(lost, "HOOKQ_SYNC=false lost nothing: the crashes do not test the flush")


if __name__ == "__main__":
    hqlib.run_tests([(n, f) for n, f in sorted(globals().items()) if n.startswith("test_")])
