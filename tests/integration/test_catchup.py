#!/usr/bin/env python3
"""Catch-up of missed deliveries (schema/design.md §9), over the real binaries:
fakehub plays GitHub and its delivery log, "sends" webhooks to the real
receiver (logging status 0 while it is down), and hookqctl catch-up or the
worker's periodic run recovers them from the log into the queue exactly
once, oldest first. Assertions read the queue through hookqctl and
fakehub's request record."""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fakehublib  # noqa: E402
import hqlib  # noqa: E402
import hqworker  # noqa: E402
from hqlib import check  # noqa: E402

SECRET = b"catch-up secret"
APP_ID = 4242
HOOK_ID = 77


class Setup:
    """fakehub with a delivery log that delivers to a receiver port chosen
    up front; the receiver starts when the test says so."""

    def __init__(self, tmp, seeds=None, fakehub_args=()):
        self.tmp = tmp
        self.key, self.pub = fakehublib.make_app_key(tmp)
        self.port = hqlib.free_port()
        self.secret_file = os.path.join(tmp, "hub-secret")
        with open(self.secret_file, "wb") as f:
            f.write(SECRET + b"\n")
        args = ["--app-id", APP_ID, "--app-public-key", self.pub,
                "--deliver-to", f"http://127.0.0.1:{self.port}/webhook",
                "--webhook-secret-file", self.secret_file, "--hook-id", HOOK_ID]
        if seeds is not None:
            path = os.path.join(tmp, "seeds.json")
            with open(path, "w", encoding="utf-8") as f:
                json.dump(seeds, f)
            args += ["--deliveries", path]
        self.hub = fakehublib.start_fakehub(tmp, *args, *fakehub_args)
        self.api = f"http://127.0.0.1:{self.hub.port}"
        self.db = os.path.join(tmp, "db")
        self.receiver = None

    def start_receiver(self, env=None):
        self.receiver = hqlib.start_receiver(os.path.join(self.tmp, "receiver"), secrets=[SECRET],
                                             port=self.port, db=self.db, env=env or {})
        return self.receiver

    def send(self, event, repo_id, i, action=None, repo=True):
        """GitHub sends one webhook: a push (or other event) of repo_id."""
        name = f"octo/r{repo_id}"
        body = json.loads(hqlib.make_payload(event, repo_id, name, action=action,
                                             sha=hqworker.sha_for(name, i), installation_id=7,
                                             size_kb=1))
        if not repo:
            body.pop("repository", None)
        st, _, js = self.hub.json_request("POST", "/_fakehub/send",
                                          {"event": event, "payload": body})
        check(st == 201, f"send answered {st} {js}")
        return js

    def env(self, **extra):
        e = {"HOOKQ_APP_ID": str(APP_ID), "HOOKQ_APP_KEY_FILE": self.key,
             "HOOKQ_GITHUB_API": self.api, "HOOKQ_DB": self.db, "HOOKQ_LOG_FORMAT": "text"}
        e.update({k: str(v) for k, v in extra.items()})
        return e

    def ctl(self, *args, **env):
        e = {k: v for k, v in os.environ.items() if not k.startswith("HOOKQ_")}
        e.update(self.env(**env))
        return hqlib.hookqctl("catch-up", *args, env=e, timeout=120)

    def ctl_json(self, *args, **env):
        r = self.ctl("--json", *args, **env)
        check(r.returncode == 0, f"catch-up exit {r.returncode}: {r.stderr}")
        return [json.loads(line) for line in r.stdout.splitlines() if line.strip()], r

    def fetched_ids(self):
        """GitHub delivery ids whose payload was fetched."""
        out = []
        for rec in self.hub.records():
            if rec["method"] == "GET" and rec["path"].startswith("/app/hook/deliveries/"):
                out.append(int(rec["path"].rsplit("/", 1)[1]))
        return out

    def close(self):
        if self.receiver is not None and self.receiver.proc.poll() is None:
            self.receiver.stop()
        self.hub.stop()


def seed(guid, event, status, age_s, repo_id=None, payload=None, redelivery=False, action=None,
         hook_id=HOOK_ID):
    return {"guid": guid, "event": event, "status_code": status, "age_s": age_s,
            "redelivery": redelivery, "action": action, "repository_id": repo_id,
            "installation_id": 7, "hook_id": hook_id, "payload": payload}


def push_payload(repo_id, i, pad=0):
    name = f"octo/r{repo_id}"
    p = {"ref": "refs/heads/main", "after": hqworker.sha_for(name, i),
         "repository": {"id": repo_id, "full_name": name}, "installation": {"id": 7}}
    if pad:
        p["pad"] = "x" * pad
    return p


def by_delivery(events):
    return {e["delivery"]: e for e in events}


def test_receiver_down_then_catch_up_recovers_exactly_once_in_order(tmp):
    s = Setup(tmp)
    try:
        sent = []
        for i in range(6):  # two repositories, interleaved, while the receiver is down
            sent.append(s.send("push", 100 + i % 2, i))
        ignored = s.send("issues", 100, 99, action="opened")  # not in HOOKQ_EVENTS
        check(all(x["status_code"] == 0 for x in sent + [ignored]), "the receiver was down")
        s.start_receiver()
        got = s.send("push", 101, 50)  # after the outage: the receiver has it
        check(got["status_code"] == 202, f"receiver up: {got}")

        objs, r = s.ctl_json()
        check([o["guid"] for o in objs] == [x["guid"] for x in sent],
              f"missed deliveries, oldest first: {objs}")
        check(all(o["result"] == "enqueued" for o in objs), f"results: {objs}")
        for o, x in zip(objs, sent):
            check(o["github_id"] == x["id"] and o["event"] == "push" and
                  o["repo_id"] in (100, 101) and "action" in o, f"fields: {o}")
        check("caught up" in r.stderr, f"log line says caught up: {r.stderr}")
        events = hqlib.queue_events(s.db)
        check(len(events) == 7, f"6 caught up + 1 received: {events}")
        for repo in (100, 101):
            mine = [e["delivery"] for e in events if e["repo_id"] == repo and
                    e["delivery"] != got["guid"]]
            want = [x["guid"] for i, x in enumerate(sent) if 100 + i % 2 == repo]
            check(mine == want, f"repository {repo} keeps GitHub's order: {mine} != {want}")
        check(all(e["hook_id"] == HOOK_ID for e in events), "under the App's hook id")
        check(ignored["id"] not in s.fetched_ids(), "an ignored event's payload is never fetched")

        # a second run finds the same missed deliveries, all already queued
        before = len(s.fetched_ids())
        objs2, _ = s.ctl_json()
        check([o["result"] for o in objs2] == ["duplicate"] * 6, f"second run: {objs2}")
        check(len(hqlib.queue_events(s.db)) == 7, "the second run enqueued nothing")
        check(len(s.fetched_ids()) - before <= 1, "duplicates are known without fetching")
        st = hqlib.queue_stats(s.db)
        check(st["enqueued_total"] == 7, f"stats: {st}")
    finally:
        s.close()


def test_deliveries_the_receiver_got_are_duplicates(tmp):
    seeds = [
        # GitHub logged a failure, but the receiver stored it (the answer was lost)
        seed("got-it", "push", 0, 300, 100, push_payload(100, 1)),
        # failed, then redelivered successfully: not missed
        seed("later-ok", "push", 502, 200, 100, push_payload(100, 2)),
        seed("later-ok", "push", 202, 100, 100, push_payload(100, 2), redelivery=True),
        # missed twice
        seed("missed", "push", 0, 150, 100, push_payload(100, 3)),
        seed("missed", "push", 503, 120, 100, push_payload(100, 3), redelivery=True),
        # older than --since
        seed("too-old", "push", 0, 7200, 100, push_payload(100, 4)),
    ]
    s = Setup(tmp, seeds)
    try:
        s.start_receiver()
        body = json.dumps(push_payload(100, 1)).encode()
        st, _, _ = hqlib.post_delivery(s.receiver.url, "push", "got-it", body, secret=SECRET,
                                       hook_id=str(HOOK_ID))
        check(st == 202, f"receiver: {st}")
        objs, _ = s.ctl_json("--since", "1h")
        res = {o["guid"]: o for o in objs}
        check(set(res) == {"got-it", "missed"}, f"missed exactly: {objs}")
        check(res["got-it"]["result"] == "duplicate", f"{res['got-it']}")
        check(res["missed"]["result"] == "enqueued" and res["missed"]["attempts"] == 2,
              f"{res['missed']}")
        events = by_delivery(hqlib.queue_events(s.db))
        check(set(events) == {"got-it", "missed"}, f"queue: {events}")
    finally:
        s.close()


def test_several_pages_in_order(tmp):
    n = 230  # three pages of 100
    seeds = [seed(f"g-{i:04d}", "push", 0, 3000 - i, 200 + i % 3, push_payload(200 + i % 3, i))
             for i in range(n)]
    s = Setup(tmp, seeds)
    try:
        s.start_receiver()
        objs, _ = s.ctl_json()
        check(len(objs) == n and all(o["result"] == "enqueued" for o in objs),
              f"{len(objs)} reported")
        check([o["guid"] for o in objs] == [f"g-{i:04d}" for i in range(n)], "oldest first")
        lists = [r for r in s.hub.records() if r["path"] == "/app/hook/deliveries"]
        check(len(lists) == 3, f"three pages read: {len(lists)}")
        events = hqlib.queue_events(s.db)
        for repo in (200, 201, 202):
            mine = [e["delivery"] for e in events if e["repo_id"] == repo]
            check(mine == sorted(mine), f"repository {repo} in order")
    finally:
        s.close()


def test_dry_run_writes_nothing(tmp):
    s = Setup(tmp)
    try:
        sent = [s.send("push", 300, i) for i in range(3)]
        s.start_receiver()
        objs, _ = s.ctl_json("--dry-run")
        check([o["result"] for o in objs] == ["would_enqueue"] * 3, f"{objs}")
        check([o["guid"] for o in objs] == [x["guid"] for x in sent], "oldest first")
        st = hqlib.queue_stats(s.db)
        check(st["queued"] == 0 and st["enqueued_total"] == 0, f"nothing written: {st}")
        redeliveries = [r for r in s.hub.records() if r["method"] == "POST" and
                        r["path"].endswith("/attempts")]
        check(not redeliveries, "no redelivery asked for")
        # the table for people
        r = s.ctl("--dry-run")
        check(r.returncode == 0 and "would_enqueue" in r.stdout and "GUID" in r.stdout and
              "3 missed (dry run)" in r.stdout, f"table: {r.stdout}")
    finally:
        s.close()


def test_redeliver_asks_github_and_the_receiver_gets_them(tmp):
    s = Setup(tmp)
    try:
        sent = [s.send("push", 400, i) for i in range(3)]
        s.start_receiver()
        objs, _ = s.ctl_json("--redeliver")
        check([o["result"] for o in objs] == ["redelivery_requested"] * 3, f"{objs}")
        posts = [r for r in s.hub.records() if r["method"] == "POST" and
                 r["path"].endswith("/attempts")]
        check(sorted(int(p["path"].split("/")[4]) for p in posts) ==
              sorted(x["id"] for x in sent), f"redeliveries: {posts}")
        events = hqlib.queue_events(s.db)
        check([e["delivery"] for e in events] == [x["guid"] for x in sent],
              f"the receiver got them, in order: {events}")
        objs2, _ = s.ctl_json("--redeliver")
        check(objs2 == [], f"the redeliveries succeeded: nothing missed now: {objs2}")
    finally:
        s.close()


def test_bad_answers_each_get_a_line_and_the_run_goes_on(tmp):
    seeds = [
        seed("no-payload", "push", 0, 400, 500, None),
        seed("too-big", "push", 0, 300, 500, push_payload(500, 1, pad=4096)),
        seed("no-repo", "push", 0, 200, None, {"ref": "refs/heads/main", "zen": "x"}),
        seed("good", "push", 0, 100, 500, push_payload(500, 2)),
    ]
    s = Setup(tmp, seeds)
    try:
        s.start_receiver()
        objs, r = s.ctl_json(HOOKQ_MAX_BODY="2KiB")
        res = {o["guid"]: o for o in objs}
        check(res["no-payload"]["result"] == "failed" and "payload" in res["no-payload"]["error"],
              f"{res['no-payload']}")
        check(res["too-big"]["result"] == "failed" and
              "HOOKQ_MAX_BODY" in res["too-big"]["error"], f"{res['too-big']}")
        check(res["no-repo"]["result"] == "ignored" and
              "repository" in res["no-repo"]["error"], f"{res['no-repo']}")
        check(res["good"]["result"] == "enqueued", f"{res['good']}")
        for g in ("no-payload", "too-big", "no-repo"):
            check(g in r.stderr, f"a log line names {g}: {r.stderr}")
        check([e["delivery"] for e in hqlib.queue_events(s.db)] == ["good"], "only the good one")
    finally:
        s.close()


def test_github_unreadable_exits_1(tmp):
    s = Setup(tmp, fakehub_args=("--fail-5xx", "1", "--fault-routes", "deliveries"))
    try:
        s.start_receiver()
        r = s.ctl()
        check(r.returncode == 1, f"exit {r.returncode}: {r.stderr}")
        check("cannot read GitHub's delivery log" in r.stderr, r.stderr)
    finally:
        s.close()
    sub = os.path.join(tmp, "malformed")
    os.makedirs(sub)
    s = Setup(sub, fakehub_args=("--malformed", "1", "--fault-routes", "deliveries"))
    try:
        s.start_receiver()
        r = s.ctl()
        check(r.returncode == 1 and "malformed" in r.stderr, f"exit {r.returncode}: {r.stderr}")
    finally:
        s.close()


def test_bad_arguments_and_settings_exit_2(tmp):
    s = Setup(tmp)
    try:
        s.start_receiver()
        for args, env, want in [
            (("--since", "soon"), {}, "--since"),
            (("--since", "90d"), {}, "--since"),
            (("--bogus",), {}, "bogus"),
            (("extra",), {}, "extra"),
            ((), {"HOOKQ_APP_ID": ""}, "HOOKQ_APP_ID"),
            ((), {"HOOKQ_APP_ID": "x"}, "HOOKQ_APP_ID"),
            ((), {"HOOKQ_EVENTS": "push,bad name!"}, "HOOKQ_EVENTS"),
            ((), {"HOOKQ_CATCHUP_WINDOW": "0"}, "HOOKQ_CATCHUP_WINDOW"),
            ((), {"HOOKQ_APP_KEY_FILE": os.path.join(tmp, "missing.pem")}, "HOOKQ_APP_KEY_FILE"),
            ((), {"HOOKQ_DB": os.path.join(tmp, "nowhere")}, "no hookq database"),
        ]:
            r = s.ctl(*args, **env)
            check(r.returncode == 2, f"{args} {env}: exit {r.returncode}: {r.stderr}")
            check(want in r.stderr, f"{args} {env}: {r.stderr}")
        check(not [x for x in s.hub.records() if "/hook/" in x["path"]],
              "a usage error reads nothing from GitHub")
    finally:
        s.close()


def wait_for(what, fn, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.2)
    raise hqlib.TestFailure(f"timed out waiting for {what}")


def test_two_workers_catch_up_periodically_exactly_once(tmp):
    s = Setup(tmp)
    workers = []
    try:
        sent = [s.send("push", 600 + i % 2, i) for i in range(6)]
        s.start_receiver()
        env = {"HOOKQ_CATCHUP_INTERVAL": "1s", "HOOKQ_LOG_FORMAT": "text"}
        for _ in range(2):
            workers.append(hqworker.start_worker(tmp, s.db, s.api, APP_ID, s.key, env=env))

        def enqueued():
            total = 0
            for w in workers:
                total += int(w.metrics().get("hookq_catchup_enqueued_total", 0))
            return total >= 6

        wait_for("catch-up enqueues the missed deliveries", enqueued)
        wait_for("the queue drains", lambda: hqlib.queue_stats(s.db)["queued"] == 0 and
                 hqlib.queue_stats(s.db)["done_total"] >= 6)
        time.sleep(2.5)  # more turns of both workers: nothing more to do
        st = hqlib.queue_stats(s.db)
        check(st["enqueued_total"] == 6 and st["done_total"] == 6, f"exactly once: {st}")
        statuses = [r for r in s.hub.statuses() if r["body"]["state"] == "success"]
        check(sorted(r["sha"] for r in statuses) ==
              sorted(hqworker.sha_for(f"octo/r{600 + i % 2}", i) for i in range(6)),
              "each caught-up event was checked once")
        total = sum(int(w.metrics().get("hookq_catchup_enqueued_total", 0)) for w in workers)
        check(total == 6, f"enqueued across workers: {total}")
        logs = "".join(w.log_text() for w in workers)
        check("caught up since" in logs and "caught up: missed delivery" in logs, logs[-2000:])
        check(sent, "sent")
    finally:
        for w in workers:
            w.stop()
        s.close()


def test_two_workers_started_together_run_once(tmp):
    s = Setup(tmp)
    workers = []
    try:
        for i in range(3):
            s.send("push", 700, i)
        s.start_receiver()
        env = {"HOOKQ_CATCHUP_INTERVAL": "1h", "HOOKQ_LOG_FORMAT": "text"}
        for _ in range(2):  # both take their first turn about 5 s after start
            workers.append(hqworker.start_worker(tmp, s.db, s.api, APP_ID, s.key, env=env))

        def runs():
            return sum(int(w.metrics().get('hookq_catchup_runs_total{result="ok"}', 0))
                       for w in workers)

        wait_for("a catch-up run", runs, timeout=30)
        time.sleep(3)  # past both first turns
        check(runs() == 1, f"one worker did the work: {runs()} runs")
        lists = [r for r in s.hub.records() if r["path"] == "/app/hook/deliveries"]
        check(len(lists) == 1, f"the log was read once: {len(lists)}")
        check(hqlib.queue_stats(s.db)["enqueued_total"] == 3, "enqueued once")
    finally:
        for w in workers:
            w.stop()
        s.close()


def test_worker_catch_up_off_without_app_or_at_zero(tmp):
    s = Setup(tmp)
    try:
        s.start_receiver()
        token = os.path.join(tmp, "token")
        with open(token, "w", encoding="utf-8") as f:
            f.write("ghp_0123456789abcdefghijklmnopqrstuvwxyz\n")
        w = hqworker.start_worker(tmp, s.db, s.api, token_file=token,
                                  env={"HOOKQ_LOG_FORMAT": "text"}, name="pat")
        w2 = hqworker.start_worker(tmp, s.db, s.api, APP_ID, s.key,
                                   env={"HOOKQ_LOG_FORMAT": "text", "HOOKQ_CATCHUP_INTERVAL": "0"},
                                   name="zero")
        time.sleep(1.5)
        w.stop()
        w2.stop()
        check("catch-up is off: reading the delivery log needs GitHub App credentials"
              in w.log_text(), w.log_text())
        check("catch-up is off (HOOKQ_CATCHUP_INTERVAL=0)" in w2.log_text(), w2.log_text())
        check(not [x for x in s.hub.records() if "/hook/" in x["path"]], "nothing read")
        bad = hqworker.start_worker(tmp, s.db, s.api, APP_ID, s.key, wait=False, name="bad",
                                    env={"HOOKQ_CATCHUP_INTERVAL": "10x"})
        check(bad.proc.wait(timeout=30) == 2 and "HOOKQ_CATCHUP_INTERVAL" in bad.log_text(),
              bad.log_text())
    finally:
        s.close()


def test_failed_worker_run_says_why_and_retries_later(tmp):
    s = Setup(tmp, fakehub_args=("--fail-5xx", "1", "--fault-routes", "deliveries"))
    try:
        s.start_receiver()
        w = hqworker.start_worker(tmp, s.db, s.api, APP_ID, s.key,
                                  env={"HOOKQ_CATCHUP_INTERVAL": "1s", "HOOKQ_LOG_FORMAT": "text"})
        wait_for("a failed run", lambda: "catch-up run failed, the position stays" in w.log_text(),
                 timeout=60)
        m = w.metrics()
        check(int(m.get('hookq_catchup_runs_total{result="failed"}', 0)) >= 1, f"{m}")
        w.stop()
    finally:
        s.close()


TESTS = [(name, fn) for name, fn in list(globals().items()) if name.startswith("test_")]

if __name__ == "__main__":
    hqlib.run_tests(TESTS)
