"""The receiver on PostgreSQL while the server goes away (issue 8, "The
database unreachable or restarting"): deliveries are acknowledged while it
runs; while it is down the receiver answers 503 with Retry-After and
/healthz says unavailable; once it is back the receiver reconnects by itself
and acknowledges again; every acknowledged delivery is in the queue. Runs
on a cluster of its own (stopping the tests' shared one would break the
tests beside it); skips without PostgreSQL."""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hqlib  # noqa: E402
from hqlib import check  # noqa: E402

SECRET = b"It's a Secret to Everybody"


def _cluster(cmd, d):
    script = os.path.join(hqlib.source_dir(), "tests", "tools", "pg_cluster.sh")
    subprocess.run([script, cmd, d], check=True, capture_output=True, timeout=60)


def _post(rcv, delivery):
    body = hqlib.make_payload("push", 4242, "octo/pg")
    st, hd, _ = hqlib.post_delivery(rcv.port, "push", delivery, body, secret=SECRET)
    return st, hd


def test_receiver_answers_503_while_the_database_is_down(tmp):
    hqlib.pg_database()  # skips without the tests' cluster
    os.chmod(tmp, 0o711)  # the server's user must reach its directory
    d = os.path.join(tmp, "pg")
    _cluster("start", d)
    rcv = None
    try:
        with open(os.path.join(d, "uri")) as f:
            uri = f.read().strip() + "/postgres"
        rcv = hqlib.start_receiver(tmp, secrets=(SECRET,), db=uri)
        acked = []
        st, _ = _post(rcv, "before-1")
        check(st // 100 == 2, f"before the outage: {st}")
        acked.append("before-1")

        _cluster("halt", d)
        st, hd = _post(rcv, "during-1")
        check(st == 503, f"during the outage: {st}")
        check(int(hd.get("retry-after", "0")) > 0, f"no Retry-After: {hd}")
        st, _, body = rcv.get("/healthz")
        check(st == 503, f"/healthz during the outage: {st} {body!r}")

        _cluster("resume", d)
        deadline = time.time() + 60
        st = None
        n = 0
        while time.time() < deadline:
            n += 1
            st, _ = _post(rcv, f"after-{n}")
            if st // 100 == 2:
                acked.append(f"after-{n}")
                break
            check(st == 503, f"after the outage: {st}")
            time.sleep(0.5)
        check(st is not None and st // 100 == 2, f"never acknowledged again: {st}")
        st, _, body = rcv.get("/healthz")
        check(st == 200, f"/healthz after the outage: {st} {body!r}")

        stored = {e["delivery"] for e in hqlib.queue_events(uri)}
        for a in acked:
            check(a in stored, f"acknowledged {a} is not in the queue: {stored}")
        log = rcv.log_text()
        check("127.0.0.1" in log and "***" in log, "the queue's name is not shown masked")
    finally:
        if rcv is not None:
            rcv.kill()
        _cluster("stop", d)


if __name__ == "__main__":
    hqlib.run_tests([(n, f) for n, f in sorted(globals().items()) if n.startswith("test_")])
