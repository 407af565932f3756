"""hookq-worker end to end: real fakehub, receiver and worker processes on
loopback, each test in its own directory (schema/design.md §2, §4; issue 4)."""

import json
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hqlib  # noqa: E402
from hqlib import check  # noqa: E402
from hqworker import Pipeline, sha_for  # noqa: E402


def deliver_all(p, repos, per_repo, event="push", threads=8):
    """Sends per_repo events to each repo, each repo's in order, repos in
    parallel. Returns {repo_name: [sha, ...]} in delivery order."""
    order = {f"octo/r{r}": [sha_for(f"octo/r{r}", i) for i in range(per_repo)]
             for r in range(1, repos + 1)}
    names = sorted(order)
    errors = []

    def run(chunk):
        try:
            for name in chunk:
                rid = int(name[6:])
                for i, sha in enumerate(order[name]):
                    p.deliver(event, 1000 + rid, name, f"{name}-{i}", sha)
        except Exception as e:  # surfaced below
            errors.append(e)

    ts = [threading.Thread(target=run, args=(names[k::threads],)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    check(not errors, f"delivery failed: {errors[:1]}")
    return order


def check_order(p, order, states=("pending", "success")):
    """Every event got pending then its final state, per repo in order."""
    got = p.statuses_by_repo()
    for name, shas in order.items():
        want = [(sha, s) for sha in shas for s in states]
        check(got.get(name) == want,
              f"{name}: statuses {got.get(name, [])[:6]}... want {want[:6]}...")


def test_end_to_end_50_repos_x_20_events(tmp):
    p = Pipeline(tmp)
    try:
        w = p.start_worker(env={"HOOKQ_WORKERS": 16})
        t0 = time.time()
        order = deliver_all(p, 50, 20)
        st = p.wait_drained(timeout=240)
        elapsed = time.time() - t0
        check(st["dead"] == 0, f"dead letters: {st}")
        check_order(p, order)
        # Repositories ran in parallel: some repo's events interleave with another's.
        recs = [r["repo"] for r in p.hub.statuses()]
        switches = sum(1 for a, b in zip(recs, recs[1:]) if a != b)
        check(switches > 100, f"repositories did not interleave ({switches} switches)")
        # The checks saw the event's environment, and a status per event.
        descs = [r["body"].get("description", "") for r in p.hub.statuses()
                 if r["body"]["state"] == "success"]
        check(len(descs) == 1000 and all(d.startswith("all good for ") for d in descs))
        m = w.metrics()
        check(m.get('hookq_events_total{outcome="done"}') == 1000, f"metrics: {m}")
        tokens = [r for r in p.hub.records() if r["route"] == "access_tokens"]
        check(len(tokens) == 1, f"{len(tokens)} token requests for one installation")
        print(f"  1000 events in {elapsed:.1f}s", flush=True)
        check(w.stop() == 0)
    finally:
        p.close()


def test_faults_end_done_in_order(tmp):
    p = Pipeline(tmp, fakehub_args=["--seed", "7", "--fail-5xx", "0.2", "--rate-429", "0.05",
                                    "--retry-after", "1", "--reset", "0.05"])
    try:
        p.start_worker(env={"HOOKQ_WORKERS": 16, "HOOKQ_MAX_ATTEMPTS": 50,
                            "HOOKQ_HTTP_TIMEOUT": "5s"})
        order = deliver_all(p, 10, 10)
        st = p.wait_drained(timeout=300)
        check(st["dead"] == 0, f"dead letters under transient faults: {st}")
        check_order(p, order)
        faults = {}
        for r in p.hub.records():
            faults[r["fault"]] = faults.get(r["fault"], 0) + 1
        check(faults.get("5xx", 0) > 10 and faults.get("429", 0) > 0, f"faults: {faults}")
        # Rate-limit waits are not attempts: a 429's event shows no attempt
        # for it in the history (checked through the worker's log lines).
        waits = [l for w in p.workers for l in w.log_lines() if l.get("op") == "wait"]
        check(len(waits) >= faults.get("429", 0), f"{len(waits)} waits for {faults}")
        retries_for_429 = [l for w in p.workers for l in w.log_lines()
                           if l.get("op") == "retry" and "429" in l.get("msg", "")]
        check(not retries_for_429, f"429 counted as an attempt: {retries_for_429[:1]}")
    finally:
        p.close()


def test_exhausted_rate_budget_waits_not_counts(tmp):
    p = Pipeline(tmp, fakehub_args=["--budget", "30", "--budget-window", "3"])
    try:
        p.start_worker(env={"HOOKQ_MAX_ATTEMPTS": 2, "HOOKQ_RATELIMIT_RESERVE": 0})
        order = deliver_all(p, 5, 6)
        st = p.wait_drained(timeout=120)
        check(st["dead"] == 0, f"budget waits dead-lettered events: {st}")
        check_order(p, order)
        limited = [r for r in p.hub.records() if r["status"] == 403]
        check(limited, "the budget never ran out; the test proves nothing")
    finally:
        p.close()


def test_422_dead_letters_at_once_and_repo_goes_on(tmp):
    p = Pipeline(tmp, fakehub_args=["--status-code-for", "octo/bad=422"])
    try:
        p.start_worker()
        p.deliver("push", 1, "octo/bad", "bad-0", sha_for("bad", 0))
        p.deliver("push", 2, "octo/good", "good-0", sha_for("good", 0))
        st = p.wait_drained(timeout=60)
        check(st["dead"] == 1, f"stats: {st}")
        bad = [r for r in p.hub.records() if r.get("repo") == "octo/bad"]
        check(len(bad) == 1 and bad[0]["status"] == 422, f"422 was retried: {bad}")
        dl = hqlib.hookqctl("dlq", "list", "--json", db=p.db)
        if dl.returncode == 0:
            rows = [json.loads(x) for x in dl.stdout.splitlines() if x.strip()]
            check(len(rows) == 1 and "422" in rows[0]["reason"], f"dlq: {rows}")
    finally:
        p.close()


def test_check_timeout_dead_letters_after_max_attempts_with_history(tmp):
    p = Pipeline(tmp)
    try:
        marker = os.path.join(tmp, "runs")
        cmd = (f"sh -c 'echo $HOOKQ_SHA $HOOKQ_ATTEMPT >> {marker}; "
               f"case $HOOKQ_SHA in {sha_for('slow', 0)}) sleep 30;; esac; echo fine'")
        p.start_worker(check_cmd=cmd, env={"HOOKQ_CHECK_TIMEOUT": "300ms",
                                           "HOOKQ_MAX_ATTEMPTS": 3})
        p.deliver("push", 1, "octo/slow", "slow-0", sha_for("slow", 0))
        p.deliver("push", 1, "octo/slow", "slow-1", sha_for("slow", 1))
        st = p.wait_drained(timeout=60)
        check(st["dead"] == 1, f"stats: {st}")
        runs = open(marker).read().split()
        slow_attempts = [runs[i + 1] for i in range(0, len(runs), 2)
                         if runs[i] == sha_for("slow", 0)]
        check(slow_attempts == ["1", "2", "3"], f"attempts of the slow check: {slow_attempts}")
        got = p.statuses_by_repo()["octo/slow"]
        check(got[-2:] == [(sha_for("slow", 1), "pending"), (sha_for("slow", 1), "success")],
              f"the later event did not complete: {got}")
        dl = hqlib.hookqctl("dlq", "list", "--json", db=p.db)
        if dl.returncode == 0:
            row = json.loads(dl.stdout.splitlines()[0])
            shown = hqlib.hookqctl("dlq", "show", str(row["id"]), "--json", db=p.db)
            check("timed out" in shown.stdout, f"history lacks the timeouts: {shown.stdout}")
    finally:
        p.close()


def test_finished_check_never_runs_again(tmp):
    # The final post fails (500) for a while: the retry must not rerun the check.
    p = Pipeline(tmp, fakehub_args=["--seed", "3", "--fail-5xx", "0.5"])
    try:
        marker = os.path.join(tmp, "runs")
        p.start_worker(check_cmd=f"sh -c 'echo $HOOKQ_SHA >> {marker}; echo ok'",
                       env={"HOOKQ_MAX_ATTEMPTS": 100})
        order = deliver_all(p, 4, 10)
        p.wait_drained(timeout=120)
        runs = open(marker).read().split()
        check(len(runs) == 40 and len(set(runs)) == 40, f"{len(runs)} check runs for 40 events")
        check_order(p, order)
    finally:
        p.close()


def test_two_worker_processes_share_one_queue(tmp):
    p = Pipeline(tmp, fakehub_args=["--latency-ms", "5"])
    try:
        marker = os.path.join(tmp, "runs")
        cmd = f"sh -c 'echo start $HOOKQ_REPO >> {marker}; sleep 0.01; echo end $HOOKQ_REPO >> {marker}'"
        p.start_worker(check_cmd=cmd, env={"HOOKQ_WORKERS": 6})
        p.start_worker(check_cmd=cmd, env={"HOOKQ_WORKERS": 6})
        order = deliver_all(p, 12, 8)
        p.wait_drained(timeout=120)
        check_order(p, order)
        # No repository had two checks running at once.
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


def test_sigterm_releases_a_running_check_and_exits_0(tmp):
    p = Pipeline(tmp)
    try:
        w = p.start_worker(check_cmd="sleep 60", env={"HOOKQ_SHUTDOWN_GRACE": "500ms"})
        p.deliver("push", 1, "octo/a", "a-0", sha_for("a", 0))
        deadline = time.time() + 20
        while time.time() < deadline and not [r for r in p.hub.statuses()]:
            time.sleep(0.05)
        time.sleep(0.3)
        t0 = time.time()
        check(w.stop(timeout=20) == 0, "worker did not exit 0")
        check(time.time() - t0 < 5, "shutdown took longer than the grace")
        evs = hqlib.queue_events(p.db)
        check(len(evs) == 1 and evs[0]["attempts"] == 0, f"released event: {evs}")
        # Another worker picks it up (the lease was given back, not left to expire).
        p.start_worker(check_cmd="echo ok")
        p.wait_drained(timeout=30)
    finally:
        p.close()


def test_pickup_latency_when_idle(tmp):
    p = Pipeline(tmp)
    try:
        w = p.start_worker(env={"HOOKQ_POST_PENDING": "false"})
        time.sleep(1.5)
        cpu0 = sum(os.times()[:2])
        stat0 = open(f"/proc/{w.proc.pid}/stat").read().split()
        time.sleep(2)
        stat1 = open(f"/proc/{w.proc.pid}/stat").read().split()
        ticks = (int(stat1[13]) + int(stat1[14])) - (int(stat0[13]) + int(stat0[14]))
        check(ticks <= 10, f"idle worker used {ticks} clock ticks in 2 s")
        del cpu0
        lat = []
        for i in range(30):
            t0 = time.time()
            p.deliver("push", 1, "octo/lat", f"lat-{i}", sha_for("lat", i))
            while len(p.hub.statuses()) < i + 1:
                time.sleep(0.002)
            lat.append(time.time() - t0)
            time.sleep(0.05)
        lat.sort()
        print(f"  delivery→status p50 {lat[15]*1000:.1f} ms, max {lat[-1]*1000:.1f} ms")
        check(lat[28] < 0.5, f"pickup too slow: {lat}")
    finally:
        p.close()


def test_config_errors_name_the_variable(tmp):
    binary = hqlib.binary("hookq-worker")
    base = {k: v for k, v in os.environ.items() if not k.startswith("HOOKQ_")}
    base["HOOKQ_DB"] = os.path.join(tmp, "db")
    cases = [
        ({}, "HOOKQ_CHECK_CMD"),
        ({"HOOKQ_CHECK_CMD": "true"}, "HOOKQ_APP_ID"),
        ({"HOOKQ_CHECK_CMD": "true", "HOOKQ_TOKEN_FILE": "/nonexistent/token"}, "HOOKQ_TOKEN_FILE"),
        ({"HOOKQ_CHECK_CMD": "true", "HOOKQ_TOKEN_FILE": "/etc/hostname",
          "HOOKQ_WORKERS": "many"}, "HOOKQ_WORKERS"),
        ({"HOOKQ_CHECK_CMD": "'unterminated", "HOOKQ_TOKEN_FILE": "/etc/hostname"},
         "HOOKQ_CHECK_CMD"),
        ({"HOOKQ_CHECK_CMD": "no-such-check-program --x", "HOOKQ_TOKEN_FILE": "/etc/hostname"},
         "HOOKQ_CHECK_CMD"),
        ({"HOOKQ_CHECK_CMD": "true", "HOOKQ_TOKEN_FILE": "/etc/hostname",
          "HOOKQ_LEASE": "0s"}, "HOOKQ_LEASE"),
        ({"HOOKQ_CHECK_CMD": "true", "HOOKQ_TOKEN_FILE": "/etc/hostname",
          "HOOKQ_METRICS_LISTEN": "nowhere"}, "HOOKQ_METRICS_LISTEN"),
    ]
    for extra, var in cases:
        env = dict(base, **extra)
        r = subprocess.run([binary], env=env, capture_output=True, text=True, timeout=20)
        lines = r.stderr.strip().splitlines()
        check(r.returncode == 2, f"{extra}: exit {r.returncode}: {r.stderr}")
        check(len(lines) == 1 and var in lines[0], f"{extra}: {r.stderr!r}")
    r = subprocess.run([binary, "--help"], capture_output=True, text=True)
    check(r.returncode == 0 and "HOOKQ_CHECK_CMD" in r.stdout and "HOOKQ_LEASE" in r.stdout)
    r = subprocess.run([binary, "--version"], capture_output=True, text=True)
    check(r.returncode == 0 and r.stdout.startswith("hookq-worker "))


TESTS = [(n[5:], f) for n, f in sorted(globals().items()) if n.startswith("test_")]

if __name__ == "__main__":
    hqlib.run_tests(TESTS)
