"""hookqctl migrate end to end (schema/design.md §7, "Moving up from one host";
issue 8): an LMDB queue populated by the real receiver and a worker that was
killed, migrated into a second database, compared through hookqctl, then
drained there by a real worker against fakehub. The target is a second LMDB
directory, and into a new database of the tests' PostgreSQL cluster."""

import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hqlib  # noqa: E402
from hqlib import check  # noqa: E402
from hqworker import CHECK_OK, Pipeline, sha_for  # noqa: E402

REPOS = ["octo/r1", "octo/r2", "octo/r3"]
DONE_BEFORE = 2  # events per repository the source worker completes
QUEUED = 4       # events per repository delivered after it was killed
SLOW = 3         # events of octo/slow, whose head times out until the kill


def repo_id(name):
    return {"octo/r1": 101, "octo/r2": 102, "octo/r3": 103, "octo/slow": 200,
            "octo/bad": 300}[name]


def wait_for(cond, what, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.02)
    raise hqlib.TestFailure(f"timed out waiting for {what}")


def populate(tmp):
    """Fills an LMDB queue through the receiver and a worker killed with -9
    while it held octo/slow's head (after failed attempts). Returns the
    pipeline (receiver and worker stopped, fakehub running) and the order
    in which each repository's events were delivered."""
    p = Pipeline(tmp, fakehub_args=["--status-code-for", "octo/bad=422"])
    marker = os.path.join(tmp, "slow-starts")
    cmd = (f"sh -c 'case $HOOKQ_REPO in octo/slow) echo x >> {marker}; sleep 3;; esac; "
           "echo fine'")
    w = p.start_worker(check_cmd=cmd, env={"HOOKQ_CHECK_TIMEOUT": "1s", "HOOKQ_MAX_ATTEMPTS": 100})
    order = {name: [] for name in REPOS + ["octo/slow"]}

    def deliver(name, i):
        sha = sha_for(name, i)
        p.deliver("push", repo_id(name), name, f"{name}-{i}", sha)
        order[name].append(sha)

    p.deliver("push", repo_id("octo/bad"), "octo/bad", "bad-0", sha_for("bad", 0))
    for i in range(SLOW):
        deliver("octo/slow", i)
    for i in range(DONE_BEFORE):
        for name in REPOS:
            deliver(name, i)
    # The same delivery again: the receiver answers it as a duplicate.
    st, js = p.deliver("push", 101, "octo/r1", "octo/r1-0", sha_for("octo/r1", 0))
    check(js and js.get("result") == "duplicate", f"duplicate not recognised: {st} {js}")

    def finished():
        s = hqlib.queue_stats(p.db)
        done = sum(1 for r in p.hub.statuses() if r["body"]["state"] == "success")
        return s["dead"] == 1 and done == DONE_BEFORE * len(REPOS)
    wait_for(finished, "the dead letter and the completed events")
    # Kill the worker inside a fresh check of octo/slow: its head stays leased.
    wait_for(lambda: os.path.exists(marker) and len(open(marker).read().split()) >= 2,
             "two attempts of octo/slow")
    n = len(open(marker).read().split())
    wait_for(lambda: len(open(marker).read().split()) > n, "a new attempt of octo/slow")
    w.proc.send_signal(signal.SIGKILL)
    w.proc.wait()
    for i in range(DONE_BEFORE, DONE_BEFORE + QUEUED):
        for name in REPOS:
            deliver(name, i)
    check(p.receiver.stop() == 0, "receiver did not stop cleanly")
    return p, order


def ctl(db, *args):
    r = hqlib.hookqctl(*args, db=db)
    check(r.returncode == 0, f"hookqctl {args}: exit {r.returncode}: {r.stderr}")
    return r.stdout


def stable_stats(db):
    """stats without what the clock moves (ages, ready against waiting)."""
    s = json.loads(ctl(db, "stats", "--json"))
    for k in ("oldest_age_seconds", "ready", "waiting"):
        s.pop(k, None)
    return s


def jlines(text):
    return [json.loads(x) for x in text.splitlines() if x.strip()]


# What a copy keeps: everything but where a repository stands in time
# (ready/waiting is the clock's business).
KEPT = ("id", "repo", "repo_id", "delivery", "hook_id", "event", "action", "attempts",
        "received_at", "step", "not_before", "installation_id")


def kept(rows):
    return [{k: r.get(k) for k in KEPT} for r in rows]


def check_same_queue(src, dst):
    s1 = json.loads(ctl(src, "stats", "--json"))
    s2 = json.loads(ctl(dst, "stats", "--json"))
    for k in ("queued", "repositories", "dead", "enqueued_total", "duplicates_total",
              "done_total", "dead_total"):
        check(s1[k] == s2[k], f"stats {k}: source {s1[k]}, target {s2[k]}")
    check(s2["leased"] == 0, f"target has leases: {s2}")
    l1, l2 = jlines(ctl(src, "list", "--json")), jlines(ctl(dst, "list", "--json"))
    check(kept(l1) == kept(l2), f"list differs:\n{kept(l1)}\n{kept(l2)}")
    d1, d2 = jlines(ctl(src, "dlq", "list", "--json")), jlines(ctl(dst, "dlq", "list", "--json"))
    check(d1 == d2, f"dlq list differs:\n{d1}\n{d2}")
    return s1


def drain_and_check_order(p, tmp, dst, order):
    """A worker on the target completes every queued event: each one's final
    status arrives once, in per-repository order."""
    w = hqworker_start(p, tmp, dst)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and hqlib.queue_stats(dst)["queued"] > 0:
            time.sleep(0.2)
        check(hqlib.queue_stats(dst)["queued"] == 0, "target not drained")
    finally:
        check(w.stop() == 0, "target worker did not exit 0")
    got = {}
    for r in p.hub.statuses():
        if r["body"]["state"] != "pending":
            got.setdefault(r["repo"], []).append((r["sha"], r["body"]["state"]))
    for name, shas in order.items():
        want = [(sha, "success") for sha in shas]
        check(got.get(name) == want, f"{name}: final statuses {got.get(name)} want {want}")
    pend = {}
    for r in p.hub.statuses():
        if r["body"]["state"] == "pending":
            pend.setdefault(r["repo"], []).append(r["sha"])
    for name, shas in order.items():
        check(sorted(set(pend.get(name, []))) == sorted(shas),
              f"{name}: pending statuses {pend.get(name)}")


def hqworker_start(p, tmp, db):
    import hqworker
    return hqworker.start_worker(tmp, db, p.api, p.APP_ID, p.key, check_cmd=CHECK_OK,
                                 env={"HOOKQ_MAX_ATTEMPTS": 100}, name="target-worker")


def migrate_scenario(tmp, dst):
    p, order = populate(tmp)
    try:
        src = p.db
        before = stable_stats(src)
        s = json.loads(ctl(src, "stats", "--json"))
        check(s["leased"] == 1, f"the killed worker's lease is not in the source: {s}")
        # A dry run counts and writes nothing.
        r = hqlib.hookqctl("migrate", "--to", dst, "--dry-run", "--json", db=src)
        check(r.returncode == 0, f"dry run: {r.returncode} {r.stderr}")
        dry = json.loads(r.stdout)
        check(dry["dry_run"] is True and dry["events"] == s["queued"], f"dry run: {dry}")
        if not dst.startswith(("postgres://", "postgresql://")):
            check(not os.path.exists(dst), "the dry run created the target")
        else:
            r = hqlib.hookqctl("stats", "--json", db=dst)
            check(r.returncode == 2 or json.loads(r.stdout)["queued"] == 0, "dry run wrote")
        r = hqlib.hookqctl("migrate", "--to", dst, db=src)
        check(r.returncode == 0, f"migrate: {r.returncode} {r.stderr}")
        print("  " + r.stdout.rstrip().replace("\n", "\n  "), flush=True)
        check("leased" in r.stdout and "unleased" in r.stdout,
              f"the leased head is not mentioned:\n{r.stdout}")
        check(stable_stats(src) == before, "migrate changed the source")
        queued = len(REPOS) * QUEUED + SLOW
        check(f"events               {queued} in 4 repositories" in r.stdout, r.stdout)
        check_same_queue(src, dst)
        # The dedup keys came along: the duplicate is known on the target.
        slow_head = [e for e in hqlib.queue_events(dst) if e["repo"] == "octo/slow"][0]
        check(slow_head["attempts"] >= 1, f"the retried head lost its attempts: {slow_head}")
        # Not again: the target is no longer empty.
        r = hqlib.hookqctl("migrate", "--to", dst, db=src)
        check(r.returncode == 2 and "not empty" in r.stderr, f"second migrate: {r.stderr}")
        drain_and_check_order(p, tmp, dst, order)
        st = hqlib.queue_stats(dst)
        check(st["dead"] == 1 and st["done_total"] == s["done_total"] + queued, f"after: {st}")
    finally:
        p.close()


def test_migrate_to_a_second_lmdb_directory_and_drain(tmp):
    migrate_scenario(tmp, os.path.join(tmp, "target"))


def test_migrate_to_postgresql_and_drain(tmp):
    migrate_scenario(tmp, hqlib.pg_database())


def small_source(tmp):
    """A source with a few queued events, written by the receiver."""
    rcv = hqlib.start_receiver(os.path.join(tmp, "rcv"), db=os.path.join(tmp, "src"))
    secret = b"It's a Secret to Everybody"
    for i in range(3):
        body = hqlib.make_payload("push", 7, "octo/small", sha=sha_for("small", i))
        st, _, _ = hqlib.post_delivery(rcv.url, "push", f"small-{i}", body, secret=secret)
        check(st in (200, 202), f"delivery answered {st}")
    check(rcv.stop() == 0)
    return rcv.db


def one_line_exit_2(r, *words):
    lines = r.stderr.strip().splitlines()
    check(r.returncode == 2, f"exit {r.returncode}: {r.stderr}")
    check(len(lines) == 1, f"not one line: {r.stderr!r}")
    for w in words:
        check(w in lines[0], f"{w!r} not in {lines[0]!r}")


def test_bad_input_exits_2_and_writes_nothing(tmp):
    src = small_source(tmp)
    before = stable_stats(src)
    other = os.path.join(tmp, "other")
    one_line_exit_2(hqlib.hookqctl("migrate", db=src), "--to")
    one_line_exit_2(hqlib.hookqctl("migrate", "--to", other, "--frobnicate", db=src),
                    "--frobnicate")
    one_line_exit_2(hqlib.hookqctl("migrate", "--to", db=src), "--to")
    one_line_exit_2(hqlib.hookqctl("migrate", "--to", other, "extra", db=src), "extra")
    one_line_exit_2(hqlib.hookqctl("migrate", "--to", "foo://somewhere", db=src), "--to")
    one_line_exit_2(hqlib.hookqctl("migrate", "--to", src, db=src), "source")
    one_line_exit_2(hqlib.hookqctl("migrate", "--to", src + "/.", db=src), "source")
    check(not os.path.exists(other), "a refused migrate created the target")
    # A password in the target URI is never printed, whatever became of it.
    r = hqlib.hookqctl("migrate", "--to", "postgresql://alice:s3cret-pw@127.0.0.1:1/none",
                       db=src)
    check(r.returncode != 0, "migrate to an unreachable database succeeded")
    check("s3cret-pw" not in r.stderr + r.stdout, f"password printed: {r.stderr}")
    # A non-empty target: a queue of its own.
    busy = small_source(os.path.join(tmp, "busy"))
    busy_before = stable_stats(busy)
    one_line_exit_2(hqlib.hookqctl("migrate", "--to", busy, db=src), "not empty")
    check(stable_stats(busy) == busy_before, "the non-empty target changed")
    # Refused while a service has the source open.
    rcv = hqlib.start_receiver(os.path.join(tmp, "rcv2"), db=src)
    try:
        one_line_exit_2(hqlib.hookqctl("migrate", "--to", other, db=src), "stop the services",
                        str(rcv.proc.pid))
    finally:
        check(rcv.stop() == 0)
    check(not os.path.exists(other), "a refused migrate created the target")
    # Refused while a service runs on the (still empty) target.
    live = os.path.join(tmp, "live")
    rcv = hqlib.start_receiver(os.path.join(tmp, "rcv3"), db=live)
    try:
        one_line_exit_2(hqlib.hookqctl("migrate", "--to", live, db=src), "target",
                        str(rcv.proc.pid))
    finally:
        check(rcv.stop() == 0)
    check(stable_stats(live)["queued"] == 0, "the refused migrate wrote into the live target")
    # --dry-run writes nothing: neither a new target nor an empty existing one.
    r = hqlib.hookqctl("migrate", "--to", other, "--dry-run", db=src)
    check(r.returncode == 0 and "would migrate" in r.stdout and "nothing was written" in r.stdout,
          f"dry run: {r.returncode} {r.stdout} {r.stderr}")
    check(not os.path.exists(other), "the dry run created the target")
    empty = os.path.join(tmp, "empty")
    r = hqlib.hookqctl("migrate", "--to", empty, db=src)
    check(r.returncode == 0, f"migrate into a new directory: {r.stderr}")
    check(stable_stats(src) == before, "the source changed")
    # JSON: one object with the counts.
    r = hqlib.hookqctl("migrate", "--to", os.path.join(tmp, "third"), "--json", db=src)
    check(r.returncode == 0, r.stderr)
    js = json.loads(r.stdout)
    check(js["events"] == 3 and js["dead"] == 0 and js["dedup"] == 3 and
          js["counters"]["enqueued_total"] == 3 and js["dry_run"] is False, f"json: {js}")
    check(js["target_created"] is True, f"json: {js}")


def test_large_queue_crosses_batches_in_order(tmp):
    """More items than one import batch of each kind: FIFO order and every
    dead letter survive the batch boundaries."""
    import base64
    db = os.path.join(tmp, "src")
    fast = {"HOOKQ_SYNC": "false"}  # the test's own filling: no fsync per delivery
    rcv = hqlib.start_receiver(os.path.join(tmp, "rcv"), db=db, env=fast)
    secret = b"It's a Secret to Everybody"
    bodies = {rid: hqlib.make_payload("push", rid, f"octo/big{rid}", sha=sha_for("big", rid))
              for rid in (1, 2, 3)}
    for i in range(700):
        st, _, _ = hqlib.post_delivery(rcv.url, "push", f"big-{i}", bodies[1 + i % 3],
                                       secret=secret)
        check(st in (200, 202), f"delivery {i} answered {st}")
    check(rcv.stop() == 0)
    lines = ["hookq-dlq-export 1"]
    for i in range(1100):
        rec = {"id": 5000 + i, "repo_id": 9, "hook_id": 0, "installation_id": 0,
               "received_at_ms": 1700000000000 + i, "not_before_ms": 0,
               "dead_at_ms": 1700000001000 + i, "attempts": 1, "step": 0, "check_state": 0,
               "repo": "octo/dead", "delivery": f"dead-{i}", "event": "push", "action": "",
               "check_desc": "", "history": "[]", "reason": f"reason {i}",
               "payload_b64": base64.b64encode(b'{"n":%d}' % i).decode()}
        lines.append(json.dumps(rec))
    lines.append("end 1100")
    path = os.path.join(tmp, "dead.export")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    r = hqlib.hookqctl("dlq", "import", path, db=db, env=fast)
    check(r.returncode == 0, f"dlq import: {r.stderr}")
    dst = os.path.join(tmp, "dst")
    r = hqlib.hookqctl("migrate", "--to", dst, "--json", db=db)
    check(r.returncode == 0, f"migrate: {r.stderr}")
    js = json.loads(r.stdout)
    check((js["events"], js["dead"], js["dedup"]) == (700, 1100, 1800), f"json: {js}")
    s1 = check_same_queue(db, dst)
    check(s1["queued"] == 700 and s1["dead"] == 1100, f"stats: {s1}")
    evs = hqlib.queue_events(dst)
    for rid in (1, 2, 3):
        got = [e["delivery"] for e in evs if e["repo_id"] == rid]
        want = [f"big-{i}" for i in range(700) if 1 + i % 3 == rid]
        check(got == want, f"repository {rid} out of order after the copy")


TESTS = [(n[5:], f) for n, f in sorted(globals().items()) if n.startswith("test_")]

if __name__ == "__main__":
    hqlib.run_tests(TESTS)
