"""Check runs (issue 10): hookq-worker with HOOKQ_REPORT=checks|both against
fakehub's Checks API. Exactly one run per event under lost create answers,
5xx and kill -9; the conclusions (exit 0, 1, 78, other, a signal, a
timeout); the output's bound; re-runs through check_run rerequested and
check_suite rerequested, another App's rerequest and check_suite requested
ignored; no status with checks, both with both; a 422 dead-letters with
GitHub's answer in the reason."""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hqlib  # noqa: E402
from hqlib import check  # noqa: E402
from hqworker import Pipeline, sha_for  # noqa: E402

CHECKS_ENV = {"HOOKQ_REPORT": "checks"}


def pipeline(tmp, *fakehub_args):
    return Pipeline(tmp, fakehub_args=list(fakehub_args), receiver_env=CHECKS_ENV)


def runs(p):
    st, _, body = p.hub.request("GET", "/_fakehub/check-runs")
    check(st == 200, f"/_fakehub/check-runs answered {st}")
    return json.loads(body)["check_runs"]


def runs_by_external_id(p):
    out = {}
    for r in runs(p):
        out.setdefault(r.get("external_id"), []).append(r)
    return out


def deliver_raw(p, event, delivery, payload):
    body = json.dumps(payload).encode()
    st, _, js = hqlib.post_delivery(p.receiver.url, event, delivery, body, secret=p.SECRET)
    check(st in (200, 202), f"receiver answered {st} {js} for {delivery}")


def wait_for(cond, timeout=60, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.2)
    raise hqlib.TestFailure(f"timed out waiting for {what}")


def test_one_completed_run_per_event_and_no_status(tmp):
    p = pipeline(tmp)
    try:
        p.start_worker(env=CHECKS_ENV | {"HOOKQ_TARGET_URL": "https://ci.example/{delivery}"})
        shas = [sha_for("octo/a", i) for i in range(5)]
        for i, sha in enumerate(shas):
            p.deliver("push", 101, "octo/a", f"a-{i}", sha)
        p.wait_drained()
        got = runs_by_external_id(p)
        for i, sha in enumerate(shas):
            rs = got.get(f"a-{i}", [])
            check(len(rs) == 1, f"a-{i}: {len(rs)} runs")
            r = rs[0]
            check(r["head_sha"] == sha and r["name"] == "hookq", f"a-{i}: {r['head_sha']} {r['name']}")
            check(r["status"] == "completed" and r["conclusion"] == "success",
                  f"a-{i}: {r['status']} {r.get('conclusion')}")
            check(r["details_url"] == f"https://ci.example/a-{i}", r["details_url"])
            check(r["output"]["title"] == f"all good for {sha}", r["output"]["title"])
            check("attempt 1" in r["output"]["summary"], r["output"]["summary"])
            # created in progress, then completed
            ops = [h["op"] for h in r["history"]]
            check(ops[0] == "create" and r["history"][0]["body"]["status"]
                  == "in_progress", f"a-{i}: history {ops}")
        check(p.hub.statuses() == [], "a status was posted with HOOKQ_REPORT=checks")
    finally:
        p.close()


def test_conclusions(tmp):
    p = pipeline(tmp)
    try:
        cmd = ("sh -c 'cat >/dev/null; case $HOOKQ_DELIVERY in "
               "c-0) echo fine; exit 0;; c-1) echo broken; exit 1;; c-78) echo skipped; exit 78;; "
               "c-3) echo weird; exit 3;; c-sig) echo dying; kill -9 $$;; "
               "c-slow) echo slow; sleep 30;; esac'")
        p.start_worker(check_cmd=cmd, env=CHECKS_ENV | {"HOOKQ_CHECK_TIMEOUT": "1s",
                                                         "HOOKQ_MAX_ATTEMPTS": 1})
        want = {"c-0": ("success", "fine"), "c-1": ("failure", "broken"),
                "c-78": ("neutral", "skipped"), "c-3": ("failure", "exit status 3: weird"),
                "c-sig": ("failure", "killed by SIGKILL (9): dying"),
                "c-slow": ("timed_out", "hookq gave up")}
        for i, d in enumerate(want):
            p.deliver("push", 200 + i, f"octo/c{i}", d, sha_for("c", i))
        p.wait_drained(dead=1)
        got = runs_by_external_id(p)
        for d, (concl, title) in want.items():
            rs = got.get(d, [])
            check(len(rs) == 1, f"{d}: {len(rs)} runs")
            r = rs[0]
            check(r["status"] == "completed" and r["conclusion"] == concl,
                  f"{d}: {r['status']} {r.get('conclusion')}, want {concl}")
            check(r["output"]["title"].startswith(title), f"{d}: title {r['output']['title']!r}")
        st = hqlib.queue_stats(p.db)
        check(st["dead"] == 1, f"the timed-out event is not the one dead letter: {st}")
    finally:
        p.close()


def test_output_of_megabytes_is_cut_at_65535_with_a_note(tmp):
    p = pipeline(tmp)
    try:
        cmd = "sh -c 'cat >/dev/null; echo first line; head -c 5000000 /dev/zero | tr \"\\\\0\" x'"
        w = p.start_worker(check_cmd=cmd, env=CHECKS_ENV)
        p.deliver("push", 300, "octo/big", "big-1", sha_for("big", 1))
        p.wait_drained()
        r = runs_by_external_id(p)["big-1"][0]
        text = r["output"]["text"]
        check(len(text.encode()) == 65535, f"text is {len(text.encode())} bytes")
        check(text.startswith("first line\nxxx"), text[:30])
        check(text.endswith("the check printed more]"), text[-80:])
        check(r["output"]["title"] == "first line", r["output"]["title"])
        # the worker's memory did not grow with the output (64 KiB capture)
        with open(f"/proc/{w.proc.pid}/status") as f:
            rss = [int(x.split()[1]) for x in f if x.startswith("VmHWM:")][0]
        check(rss < 200 * 1024, f"worker peak RSS {rss} KiB")
    finally:
        p.close()


def test_lost_create_answers_and_5xx_still_make_one_run(tmp):
    # the 1st and 3rd creates are stored but their answers lost (the
    # connection reset after the request was read); a fifth of check-run
    # calls get a 5xx
    lost_answers_make_one_run(tmp, "reset")


def test_lost_create_answers_as_502_make_one_run(tmp):
    lost_answers_make_one_run(tmp, "502")


def lost_answers_make_one_run(tmp, how):
    p = pipeline(tmp, "--fault-routes", "check_runs", "--lose-create", "1,3", "--lose-update",
                 "2", "--lost-answer", how, "--fail-5xx", "0.2", "--seed", "5")
    try:
        p.start_worker(env=CHECKS_ENV | {"HOOKQ_MAX_ATTEMPTS": 50})
        n = 8
        for i in range(n):
            p.deliver("push", 400 + i % 2, f"octo/l{i % 2}", f"l-{i}", sha_for("l", i))
        p.wait_drained()
        st = hqlib.queue_stats(p.db)
        check(st["dead"] == 0, f"dead letters: {st}")
        got = runs_by_external_id(p)
        for i in range(n):
            rs = got.get(f"l-{i}", [])
            check(len(rs) == 1, f"l-{i}: {len(rs)} runs")
            check(rs[0]["conclusion"] == "success", f"l-{i}: {rs[0].get('conclusion')}")
        st, _, body = p.hub.request("GET", "/_fakehub/check-runs")
        check(json.loads(body)["lost"] >= 2, "fakehub lost no answer")
    finally:
        p.close()


def test_lost_create_answer_found_past_the_first_page(tmp):
    # The lookup of an unrecorded run pages on: fakehub lists a commit's
    # runs oldest first, two a page, so the run whose create answer was lost
    # (the third of the commit) is on the second page. Read only the first
    # page, the worker would make it a second run.
    p = pipeline(tmp, "--check-runs-oldest-first", "--check-runs-page-max", "2",
                 "--fault-routes", "check_runs", "--lose-create", "3")
    try:
        p.start_worker(env=CHECKS_ENV | {"HOOKQ_MAX_ATTEMPTS": 10})
        sha = sha_for("pg", 0)
        for i in range(3):
            p.deliver("push", 470, "octo/paged", f"pg-{i}", sha)
        p.wait_drained()
        got = runs_by_external_id(p)
        for i in range(3):
            rs = got.get(f"pg-{i}", [])
            check(len(rs) == 1, f"pg-{i}: {len(rs)} runs")
            check(rs[0]["conclusion"] == "success", f"pg-{i}: {rs[0].get('conclusion')}")
        st, _, body = p.hub.request("GET", "/_fakehub/check-runs")
        check(json.loads(body)["lost"] == 1, "fakehub lost no create answer")
    finally:
        p.close()


def test_kill_9_between_create_and_record_makes_one_run(tmp):
    # fakehub stores every check-run call and then holds its answer 3 s: the
    # worker is killed once GitHub has the run and before its answer came,
    # so the id was never recorded. The next worker must find that run.
    p = pipeline(tmp, "--fault-routes", "check_runs", "--hang", "1", "--hang-ms", "3000")
    try:
        env = CHECKS_ENV | {"HOOKQ_LEASE": "1s", "HOOKQ_MAX_ATTEMPTS": 100}
        for i in range(2):
            p.deliver("push", 500 + i, f"octo/k{i}", f"k-{i}", sha_for("k", i))
        w = p.start_worker(env=env)
        wait_for(lambda: len(runs(p)) == 2, timeout=30, what="both creates stored")
        w.kill()
        p.workers.remove(w)
        check("created check run" not in w.log_text(), "an answer came before the kill")
        w = p.start_worker(env=env)
        p.wait_drained(timeout=120)
        check(w.log_text().count("of an earlier attempt") == 2,
              "the second worker did not find the runs by their external_id")
        got = runs_by_external_id(p)
        for i in range(2):
            rs = got.get(f"k-{i}", [])
            check(len(rs) == 1, f"k-{i}: {len(rs)} runs: {[r['id'] for r in rs]}")
            check(rs[0]["conclusion"] == "success", f"k-{i}: {rs[0].get('conclusion')}")
    finally:
        p.close()


def rerequest_payload(kind, sha, app_id, action="rerequested"):
    p = {"action": action, "installation": {"id": 7},
         "repository": {"id": 600, "full_name": "octo/rr", "name": "rr",
                        "owner": {"login": "octo"}}}
    if kind == "check_run":
        p["check_run"] = {"id": 1, "head_sha": sha, "name": "hookq", "app": {"id": app_id}}
    else:
        p["check_suite"] = {"id": 2, "head_sha": sha, "app": {"id": app_id}}
    return p


def test_rerun_makes_a_new_run_and_others_are_ignored(tmp):
    p = pipeline(tmp)
    try:
        p.start_worker(env=CHECKS_ENV)
        sha = sha_for("rr", 1)
        p.deliver("push", 600, "octo/rr", "rr-push", sha)
        p.wait_drained()
        deliver_raw(p, "check_run", "rr-run", rerequest_payload("check_run", sha, Pipeline.APP_ID))
        deliver_raw(p, "check_suite", "rr-suite",
                    rerequest_payload("check_suite", sha, Pipeline.APP_ID))
        deliver_raw(p, "check_run", "rr-other", rerequest_payload("check_run", sha, 99))
        deliver_raw(p, "check_suite", "rr-req",
                    rerequest_payload("check_suite", sha, Pipeline.APP_ID, "requested"))
        p.wait_drained()
        got = runs_by_external_id(p)
        for d in ("rr-push", "rr-run", "rr-suite"):
            rs = got.get(d, [])
            check(len(rs) == 1 and rs[0]["head_sha"] == sha and rs[0]["conclusion"] == "success",
                  f"{d}: {rs}")
        check("rr-other" not in got, "another App's rerequest made a run")
        check("rr-req" not in got, "check_suite requested made a run")
        check(len(runs(p)) == 3, f"{len(runs(p))} runs on the commit")
    finally:
        p.close()


def test_both_posts_statuses_and_the_run(tmp):
    p = Pipeline(tmp, fakehub_args=["--status-code-for", "octo/nostatus=422"],
                 receiver_env={"HOOKQ_REPORT": "both"})
    try:
        # no pending: the refused status below is the final one
        p.start_worker(env={"HOOKQ_REPORT": "both", "HOOKQ_CHECK_NAME": "lint",
                            "HOOKQ_POST_PENDING": "false"})
        sha = sha_for("both", 1)
        p.deliver("push", 700, "octo/both", "both-1", sha)
        p.wait_drained()
        check(p.statuses_by_repo().get("octo/both") == [(sha, "success")],
              f"statuses: {p.statuses_by_repo()}")
        rs = runs_by_external_id(p).get("both-1", [])
        check(len(rs) == 1 and rs[0]["name"] == "lint" and rs[0]["conclusion"] == "success",
              f"runs: {rs}")
        # the status is a step of its own: refused after the run completed,
        # the event dead-letters and the run keeps its conclusion
        p.deliver("push", 701, "octo/nostatus", "both-2", sha_for("both", 2))
        p.wait_drained()
        check(hqlib.queue_stats(p.db)["dead"] == 1, "the refused status did not dead-letter")
        rs = runs_by_external_id(p).get("both-2", [])
        check(len(rs) == 1 and rs[0]["conclusion"] == "success",
              f"runs: {[(r['id'], r.get('conclusion')) for r in rs]}")
    finally:
        p.close()


def test_422_dead_letters_with_githubs_answer(tmp):
    p = pipeline(tmp, "--check-code-for", "octo/bad=422")
    try:
        p.start_worker(env=CHECKS_ENV)
        p.deliver("push", 800, "octo/bad", "bad-1", sha_for("bad", 1))
        p.wait_drained()
        r = hqlib.hookqctl("dlq", "list", "--json", db=p.db)
        check(r.returncode == 0, r.stderr)
        dead = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
        check(len(dead) == 1, f"dead letters: {dead}")
        reason = dead[0].get("reason", "")
        check("creating the check run" in reason and "422" in reason, reason)
    finally:
        p.close()


def test_replay_makes_a_new_run(tmp):
    p = pipeline(tmp)
    try:
        cmd = "sh -c 'cat >/dev/null; echo slow; sleep 30'"
        w = p.start_worker(check_cmd=cmd, env=CHECKS_ENV | {"HOOKQ_CHECK_TIMEOUT": "500ms",
                                                            "HOOKQ_MAX_ATTEMPTS": 1})
        p.deliver("push", 900, "octo/rp", "rp-1", sha_for("rp", 1))
        p.wait_drained()
        w.stop()
        p.workers.remove(w)
        r = hqlib.hookqctl("dlq", "list", "--json", db=p.db)
        dead = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
        first = runs_by_external_id(p)["rp-1"][0]["id"]
        check(len(dead) == 1 and dead[0].get("check_run_id") == first,
              f"the dead letter does not name its run {first}: {dead}")
        r = hqlib.hookqctl("dlq", "replay", "--all", db=p.db)
        check(r.returncode == 0, r.stderr)
        p.start_worker(env=CHECKS_ENV)
        p.wait_drained()
        rs = runs_by_external_id(p).get("rp-1", [])
        check([x["conclusion"] for x in rs] == ["timed_out", "success"],
              f"runs: {[(x['id'], x.get('conclusion')) for x in rs]}")
    finally:
        p.close()


def test_checks_without_an_app_exits_2(tmp):
    r = subprocess.run(
        [hqlib.binary("hookq-worker")], capture_output=True, text=True, timeout=20,
        env={"PATH": os.environ["PATH"], "HOOKQ_REPORT": "checks", "HOOKQ_CHECK_CMD": "true",
             "HOOKQ_TOKEN_FILE": os.path.join(tmp, "token"), "HOOKQ_DB": tmp})
    check(r.returncode == 2, f"exit {r.returncode}: {r.stderr}")
    check("HOOKQ_REPORT: check runs need a GitHub App" in r.stderr, r.stderr)
    r = subprocess.run(
        [hqlib.binary("hookq-worker")], capture_output=True, text=True, timeout=20,
        env={"PATH": os.environ["PATH"], "HOOKQ_REPORT": "check", "HOOKQ_CHECK_CMD": "true",
             "HOOKQ_DB": tmp})
    check(r.returncode == 2 and "HOOKQ_REPORT: expected statuses, checks or both" in r.stderr,
          r.stderr)
    # the receiver reads it too (its default events), with the same verdict
    secret = os.path.join(tmp, "secret")
    with open(secret, "w") as f:
        f.write("s3cret\n")
    r = subprocess.run(
        [hqlib.binary("hookq-receiver")], capture_output=True, text=True, timeout=20,
        env={"PATH": os.environ["PATH"], "HOOKQ_REPORT": "check", "HOOKQ_DB": tmp,
             "HOOKQ_WEBHOOK_SECRET_FILE": secret, "HOOKQ_LISTEN": "127.0.0.1:0"})
    check(r.returncode == 2 and "HOOKQ_REPORT: expected statuses, checks or both" in r.stderr,
          r.stderr)


def test_receiver_default_events_with_check_runs(tmp):
    p = pipeline(tmp)
    try:
        # accepted by default with check runs, and done without a run
        deliver_raw(p, "check_run", "own-created",
                    rerequest_payload("check_run", sha_for("x", 1), Pipeline.APP_ID, "created"))
        p.start_worker(env=CHECKS_ENV)
        p.wait_drained()
        check(hqlib.queue_stats(p.db)["done_total"] == 1, "the check_run event was not taken")
        check(runs(p) == [], "our own run's created webhook made a run")
    finally:
        p.close()
    rcv = hqlib.start_receiver(os.path.join(tmp, "plain"), secrets=[Pipeline.SECRET])
    try:
        body = json.dumps(rerequest_payload("check_run", sha_for("x", 1), 1)).encode()
        st, _, js = hqlib.post_delivery(rcv.url, "check_run", "plain-1", body,
                                        secret=Pipeline.SECRET)
        check(js.get("result") == "ignored" and hqlib.queue_stats(rcv.db)["enqueued_total"] == 0,
              f"check_run accepted without check runs: {st} {js}")
    finally:
        rcv.stop()


TESTS = [(n[5:], f) for n, f in sorted(globals().items()) if n.startswith("test_")]

if __name__ == "__main__":
    hqlib.run_tests(TESTS)
