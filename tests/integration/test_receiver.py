#!/usr/bin/env python3
"""test_receiver: the real hookq-receiver on a loopback port, one temporary
database per test. Every row of schema/design.md §3 gives its status code and JSON body
and leaves the queue as it should; group commit under concurrency keeps
per-repository order; a full map answers 503 and health checks go on;
SIGTERM exits 0; bad configuration exits 2 naming the variable."""

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hqlib import (binary, check, free_port, hookqctl, http_request, make_payload,  # noqa: E402
                   metrics, post_delivery, queue_events, queue_stats, run_tests, sign,
                   start_receiver)

SECRET = b"It's a Secret to Everybody"


class running:
    """with running(tmp, ...) as r: a receiver killed on the way out."""

    def __init__(self, tmp, **kw):
        self.r = start_receiver(tmp, **kw)

    def __enter__(self):
        return self.r

    def __exit__(self, *exc):
        if self.r.proc.poll() is None:
            self.r.kill()


def post(r, event, delivery, body, secret=SECRET, **kw):
    return post_delivery(r.url, event, delivery, body, secret=secret, **kw)


def events_of(r):
    return queue_events(r.db)


# ------------------------------------------------- schema/design.md §3 rows --

def test_accepted_then_duplicate(tmp):
    with running(tmp) as r:
        body = make_payload("pull_request", 1296269, "octocat/Hello-World", action="opened",
                            installation_id=77)
        st, hd, js = post(r, "pull_request", "d-1", body, hook_id="555")
        check(st == 202, f"status {st} {js}")
        check(js["result"] == "accepted" and js["id"] >= 1, f"{js}")
        check(hd.get("content-type") == "application/json", f"{hd}")
        first = js["id"]
        evs = events_of(r)
        check(len(evs) == 1, f"{evs}")
        e = evs[0]
        check(e["id"] == first and e["repo_id"] == 1296269 and e["repo"] == "octocat/Hello-World",
              f"{e}")
        check(e["delivery"] == "d-1" and e["hook_id"] == 555 and e["event"] == "pull_request",
              f"{e}")
        check(e["action"] == "opened", f"{e}")
        # Redelivery of the same (hook id, delivery): 200 duplicate, nothing written.
        st, _, js = post(r, "pull_request", "d-1", body, hook_id="555")
        check(st == 200 and js == {"result": "duplicate", "id": first}, f"{st} {js}")
        check(len(events_of(r)) == 1, "duplicate was stored")
        # Same delivery GUID, another hook: a different delivery.
        st, _, js = post(r, "pull_request", "d-1", body, hook_id="556")
        check(st == 202 and js["result"] == "accepted" and js["id"] != first, f"{st} {js}")
        check(len(events_of(r)) == 2, "second hook's delivery not stored")


def test_missing_hook_id_is_zero(tmp):
    with running(tmp) as r:
        body = make_payload("push", 5, "o/five")
        st, _, js = post(r, "push", "d-nohook", body, hook_id=None)
        check(st == 202, f"{st} {js}")
        check(events_of(r)[0]["hook_id"] == 0, "hook id not 0")
        st, _, js2 = post(r, "push", "d-nohook", body, hook_id="0")
        check(st == 200 and js2["result"] == "duplicate" and js2["id"] == js["id"], f"{js2}")


def test_ignored_events(tmp):
    with running(tmp) as r:
        # not in HOOKQ_EVENTS (default push,pull_request)
        st, _, js = post(r, "issues", "d-i", make_payload("issues", 5, "o/r", action="opened"))
        check(st == 202 and js == {"result": "ignored"}, f"{st} {js}")
        # accepted event but no repository in it
        body = json.dumps({"ref": "refs/heads/x", "after": "0" * 40}).encode()
        st, _, js = post(r, "push", "d-norepo", body)
        check(st == 202 and js == {"result": "ignored"}, f"{st} {js}")
        check(events_of(r) == [], "ignored deliveries were stored")
    # HOOKQ_EVENTS=* accepts anything with a repository
    with running(os.path.join(tmp, "all"), env={"HOOKQ_EVENTS": "*"}) as r:
        st, _, js = post(r, "issues", "d-i", make_payload("issues", 5, "o/r", action="opened"))
        check(st == 202 and js["result"] == "accepted", f"{st} {js}")


def test_ping(tmp):
    with running(tmp) as r:
        body = json.dumps({"zen": "Design for failure.", "hook_id": 1}).encode()
        st, _, js = post(r, "ping", "d-ping", body)
        check(st == 200 and js == {"result": "pong"}, f"{st} {js}")
        st, _, js = post(r, "ping", "d-ping2", body, secret=None)
        check(st == 401, f"unsigned ping: {st}")
        check(events_of(r) == [], "ping stored")


def test_signatures(tmp):
    with running(tmp) as r:
        body = make_payload("push", 9, "o/nine")
        good = sign(SECRET, body)
        bad_cases = {
            "missing": None,
            "wrong secret": sign(b"another secret", body),
            "sha1": "sha1=" + "0" * 40,
            "short": good[:-2],
            "not hex": good[:-1] + "g",
            "empty": "",
            "other body": sign(SECRET, body + b" "),
        }
        for name, value in bad_cases.items():
            extra = {} if value is None else {"X-Hub-Signature-256": value}
            st, _, js = post(r, "push", "d-" + name.replace(" ", "-"), body, secret=None, extra_headers=extra)
            check(st == 401, f"{name}: {st} {js}")
            check(js and "signature" in js.get("error", "").lower(), f"{name}: {js}")
        check(events_of(r) == [], "unauthorized delivery stored")
        st, _, js = post(r, "push", "d-good", body, secret=None,
                         extra_headers={"X-Hub-Signature-256": good.upper().replace("SHA256",
                                                                                   "sha256")})
        check(st == 202, f"upper-case hex: {st} {js}")


def test_secret_rotation(tmp):
    with running(tmp, secrets=[b"new-secret", SECRET]) as r:
        for i, s in enumerate([b"new-secret", SECRET]):
            st, _, js = post(r, "push", f"d-rot-{i}", make_payload("push", 3, "o/r"), secret=s)
            check(st == 202, f"secret {i}: {st} {js}")
        st, _, _ = post(r, "push", "d-rot-x", make_payload("push", 3, "o/r"), secret=b"old")
        check(st == 401, f"unknown secret: {st}")
        check(len(events_of(r)) == 2, "rotation")
        log = r.log_text()
        check(b"new-secret".decode() not in log and SECRET.decode() not in log, "secret in log")


def test_bad_requests(tmp):
    with running(tmp) as r:
        body = make_payload("push", 11, "o/eleven")
        cases = [
            ("no event", dict(event=None), "X-GitHub-Event"),
            ("no delivery", dict(delivery=None), "X-GitHub-Delivery"),
            ("bad hook id", dict(hook_id="12x"), "X-GitHub-Hook-ID"),
            ("text/plain", dict(content_type="text/plain"), "content type"),
            ("no content type", dict(content_type=None), "content type"),
        ]
        for name, kw, word in cases:
            args = dict(event="push", delivery="d-" + name.replace(" ", "-"))
            args.update(kw)
            st, _, js = post_delivery(r.url, args["event"], args["delivery"], body, secret=SECRET,
                                      **{k: v for k, v in kw.items()
                                         if k not in ("event", "delivery")})
            check(st == 400, f"{name}: {st} {js}")
            check(js and word.lower() in js["error"].lower(), f"{name}: {js}")
        for name, raw in [("invalid json", b"{\"repository\":"), ("array", b"[1,2,3]"),
                          ("trailing", b"{} x"),
                          ("string id", b"{\"repository\":{\"id\":\"1\",\"full_name\":\"a/b\"}}"),
                          ("no full_name", b"{\"repository\":{\"id\":1}}")]:
            st, _, js = post(r, "push", "d-" + name.replace(" ", "-"), raw)
            check(st == 400 and "error" in js, f"{name}: {st} {js}")
        check(events_of(r) == [], "bad request stored")


def test_form_urlencoded(tmp):
    with running(tmp) as r:
        payload = make_payload("push", 21, "o/form")
        form = ("payload=" + urllib.parse.quote_plus(payload.decode())).encode()
        st, _, js = post(r, "push", "d-form", form,
                         content_type="application/x-www-form-urlencoded")
        check(st == 202 and js["result"] == "accepted", f"{st} {js}")
        evs = events_of(r)
        check(len(evs) == 1 and evs[0]["repo"] == "o/form", f"{evs}")
        # signature over the decoded JSON instead of the raw form: refused
        st, _, _ = post_delivery(r.url, "push", "d-form2", form, secret=None,
                                 content_type="application/x-www-form-urlencoded",
                                 extra_headers={"X-Hub-Signature-256": sign(SECRET, payload)})
        check(st == 401, f"form signed over JSON: {st}")
        for name, raw in [("no payload", b"foo=bar"), ("bad escape", b"payload=%7"),
                          ("twice", b"payload=%7B%7D&payload=%7B%7D")]:
            st, _, js = post(r, "push", "d-" + name.replace(" ", "-"), raw,
                             content_type="application/x-www-form-urlencoded")
            check(st == 400 and "payload" in js["error"], f"{name}: {st} {js}")
        check(len(events_of(r)) == 1, "bad forms stored")


def test_too_large(tmp):
    with running(tmp, env={"HOOKQ_MAX_BODY": "64KiB"}) as r:
        body = make_payload("push", 1, "o/r", size_kb=100)
        # Headers announce 100 KB: the answer comes without the body being sent.
        headers = {"X-GitHub-Event": "push", "X-GitHub-Delivery": "d-big", "X-GitHub-Hook-ID": "1",
                   "Content-Type": "application/json",
                   "X-Hub-Signature-256": sign(SECRET, body), "Content-Length": str(len(body))}
        t0 = time.time()
        st, hd, raw = http_request("127.0.0.1", r.port, "POST", "/webhook", headers, body,
                                   send_body=False, timeout=5)
        check(st == 413, f"413 expected, got {st}")
        check(time.time() - t0 < 3, "413 waited for the body")
        check("error" in json.loads(raw), f"{raw}")
        # Even a 25 MiB announcement over a 64 KiB limit is answered at once.
        headers["Content-Length"] = str(30 << 20)
        st, _, _ = http_request("127.0.0.1", r.port, "POST", "/webhook", headers, body,
                                send_body=False, timeout=5)
        check(st == 413, f"huge Content-Length: {st}")
        # A chunked body that crosses the limit is stopped.
        del headers["Content-Length"]
        headers["Transfer-Encoding"] = "chunked"
        chunk = b"x" * 8192
        stream = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(20)) + b"0\r\n\r\n"
        st, _, _ = http_request("127.0.0.1", r.port, "POST", "/webhook", headers, stream,
                                timeout=5)
        check(st in (None, 413), f"chunked over the limit: {st}")
        # A chunked body under the limit is fine.
        small = make_payload("push", 1, "o/r", size_kb=8)
        headers["X-Hub-Signature-256"] = sign(SECRET, small)
        headers["X-GitHub-Delivery"] = "d-chunked"
        stream = b"".join(b"%x\r\n%s\r\n" % (len(small[i:i + 1000]), small[i:i + 1000])
                          for i in range(0, len(small), 1000)) + b"0\r\n\r\n"
        st, _, raw = http_request("127.0.0.1", r.port, "POST", "/webhook", headers, stream)
        check(st == 202, f"small chunked body: {st} {raw}")
        check(len(events_of(r)) == 1, "queue content after 413s")
        m = metrics(r)
        check(m['hookq_deliveries_total{result="too_large"}'] >= 2, "too_large not counted")


def test_methods_and_paths(tmp):
    with running(tmp, env={"HOOKQ_WEBHOOK_PATH": "/gh/hook"}) as r:
        st, hd, raw = http_request("127.0.0.1", r.port, "GET", "/gh/hook", body=None)
        check(st == 405 and "POST" in hd.get("allow", ""), f"GET webhook: {st} {hd}")
        check("error" in json.loads(raw), "405 body")
        st, _, _ = http_request("127.0.0.1", r.port, "PUT", "/gh/hook", body=b"{}")
        check(st == 405, f"PUT webhook: {st}")
        st, _, _ = http_request("127.0.0.1", r.port, "POST", "/healthz", body=b"{}")
        check(st == 405, f"POST healthz: {st}")
        st, _, raw = http_request("127.0.0.1", r.port, "GET", "/webhook", body=None)
        check(st == 404 and "error" in json.loads(raw), f"old path: {st}")
        st, _, js = post_delivery(r.base + "/webhook", "push", "d-x", b"{}", secret=SECRET)
        check(st == 404, f"POST to another path: {st}")
        st, _, js = post_delivery(r.base + "/gh/hook", "push", "d-x",
                                  make_payload("push", 1, "a/b"), secret=SECRET)
        check(st == 202, f"configured path: {st} {js}")


def test_health_and_metrics(tmp):
    with running(tmp) as r:
        st, hd, raw = r.get("/healthz")
        check(st == 200 and json.loads(raw)["status"] == "ok", f"{st} {raw}")
        post(r, "push", "d-m1", make_payload("push", 1, "a/b"))
        post(r, "push", "d-m1", make_payload("push", 1, "a/b"))
        post(r, "push", "d-m2", make_payload("push", 1, "a/b"), secret=b"nope")
        post(r, "issues", "d-m3", make_payload("issues", 1, "a/b"))
        st, hd, raw = r.get("/metrics")
        check(st == 200 and hd["content-type"].startswith("text/plain"), f"{st} {hd}")
        text = raw.decode()
        for fam in ("hookq_deliveries_total", "hookq_commit_duration_seconds",
                    "hookq_commit_batch_size", "hookq_queue_depth", "hookq_queue_repositories",
                    "hookq_queue_ready", "hookq_queue_leased",
                    "hookq_dead_letters", "hookq_queue_oldest_ready_age_seconds"):
            check(f"# TYPE {fam} " in text, f"{fam} missing")
        m = metrics(r)
        check(m['hookq_deliveries_total{result="accepted"}'] == 1, "accepted")
        check(m['hookq_deliveries_total{result="duplicate"}'] == 1, "duplicate")
        check(m['hookq_deliveries_total{result="unauthorized"}'] == 1, "unauthorized")
        check(m['hookq_deliveries_total{result="ignored"}'] == 1, "ignored")
        check(m["hookq_queue_depth"] == 1 and m["hookq_queue_repositories"] == 1, "depth")
        check(m["hookq_commit_batch_size_count"] >= 1, "batch size histogram")


def test_logs_carry_delivery(tmp):
    with running(tmp) as r:
        post(r, "push", "d-log-1", make_payload("push", 4, "o/logs"))
        post(r, "push", "d-log-2", make_payload("push", 4, "o/logs"), secret=b"wrong")
        post(r, "pull_request", "d-log-3", b"{bad json")
        r.stop()
        lines = [l for l in r.log_lines() if l.get("op") == "receive"]
        check(len(lines) == 3, f"{lines}")
        for l in lines:
            check(l.get("delivery", "").startswith("d-log-"), f"no delivery id: {l}")
            check("event" in l, f"no event: {l}")
        check(lines[0].get("repo") == "o/logs", f"{lines[0]}")


# ------------------------------------------------------------- concurrency --

def test_concurrent_deliveries_keep_order(tmp):
    with running(tmp) as r:
        # 20 repositories, each sending 10 deliveries one after the other
        # (a repository's sender waits for each answer), all repositories at
        # once: per-repository order in the queue is the sending order.
        results = {}
        errors = []

        def repo_sender(k):
            ids = []
            for i in range(10):
                body = make_payload("push", 1000 + k, f"org/repo-{k}", sha="%040x" % (k * 100 + i))
                st, _, js = post(r, "push", f"seq-{k}-{i}", body)
                if st != 202:
                    errors.append((k, i, st, js))
                    return
                ids.append(js["id"])
            results[k] = ids

        threads = [threading.Thread(target=repo_sender, args=(k,)) for k in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        check(not errors, f"{errors[:3]}")
        # then 200 at once, 10 per repository, no waiting
        acked = {}
        lock = threading.Lock()
        barrier = threading.Barrier(200)

        def one(n):
            k = n % 20
            body = make_payload("pull_request", 1000 + k, f"org/repo-{k}", action="synchronize",
                                sha="%040x" % (10 ** 6 + n))
            barrier.wait()
            st, _, js = post(r, "pull_request", f"burst-{n}", body)
            with lock:
                acked[n] = (st, js)

        threads = [threading.Thread(target=one, args=(n,)) for n in range(200)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        bad = {n: v for n, v in acked.items() if v[0] != 202}
        check(len(acked) == 200 and not bad, f"not all acknowledged: {list(bad.items())[:3]}")
        evs = events_of(r)
        check(len(evs) == 400, f"{len(evs)} stored")
        by_repo = {}
        for e in evs:
            by_repo.setdefault(e["repo_id"], []).append(e)
        check(len(by_repo) == 20, f"{len(by_repo)} repositories")
        for k in range(20):
            fifo = by_repo[1000 + k]
            seq = [e["delivery"] for e in fifo if e["delivery"].startswith("seq-")]
            check(seq == [f"seq-{k}-{i}" for i in range(10)], f"repo {k} order {seq}")
            check([e["id"] for e in fifo[:10]] == results[k], f"repo {k} ids")
            ids = [e["id"] for e in fifo]
            check(ids == sorted(ids), f"repo {k}: FIFO not in commit order {ids}")
            burst = {e["delivery"]: e["id"] for e in fifo[10:]}
            for d, i in burst.items():
                check(acked[int(d.split("-")[1])][1]["id"] == i, f"{d}: acked id differs")
        m = metrics(r)
        commits = m["hookq_commits_total"]
        check(commits < 400, f"no group commit: {commits} commits for 400 deliveries")
        st = queue_stats(r.db)
        check(st["queued"] == 400 and st["repositories"] == 20, f"{st}")


def test_slow_client_times_out(tmp):
    with running(tmp, env={"HOOKQ_RECEIVER_TIMEOUT": "2s"}) as r:
        stalled = socket.create_connection(("127.0.0.1", r.port))
        stalled.sendall(b"POST /webhook HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: pu")
        t0 = time.time()
        for i in range(5):
            st, _, js = post(r, "push", f"d-slow-{i}", make_payload("push", 2, "o/r"))
            check(st == 202, f"{st} {js}")
        check(time.time() - t0 < 2, "others waited for the stalled client")
        stalled.settimeout(10)
        t1 = time.time()
        data = stalled.recv(100)  # b"" when the receiver closes it
        check(data == b"" or data.startswith(b"HTTP/1.1 4"), f"{data!r}")
        check(time.time() - t1 < 6, "stalled connection was not closed")
        stalled.close()


def test_unix_socket(tmp):
    path = os.path.join(tmp, "r.sock")
    r = start_receiver(tmp, env={"HOOKQ_LISTEN": "unix:" + path}, wait=False)
    try:
        # Up once it accepts: the file appears at bind(), a moment before
        # listen(), and a connect in between is refused (seen under TSan).
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                    probe.connect(path)
                break
            except OSError:
                time.sleep(0.02)
        body = make_payload("push", 8, "o/unix")
        st, _, raw = http_request("localhost", 0, "POST", "/webhook", {
            "X-GitHub-Event": "push", "X-GitHub-Delivery": "d-unix",
            "Content-Type": "application/json", "X-Hub-Signature-256": sign(SECRET, body)},
            body, unix_path=path)
        check(st == 202, f"{st} {raw}")
        check(r.stop() == 0, "exit status")
        check(not os.path.exists(path), "socket file left behind")
    finally:
        r.kill()


# ----------------------------------------------------------------- storage --

def test_full_map_answers_503(tmp):
    with running(tmp, env={"HOOKQ_MAP_SIZE": "1MiB"}) as r:
        accepted = []
        last = None
        for i in range(200):
            body = make_payload("pull_request", 50 + i % 3, f"o/r{i % 3}", action="opened")
            st, hd, js = post(r, "pull_request", f"d-fill-{i}", body)
            if st == 202:
                accepted.append(js["id"])
                continue
            last = (st, hd, js)
            break
        check(last is not None, "the map never filled")
        st, hd, js = last
        check(st == 503, f"{st} {js}")
        check(int(hd.get("retry-after", "0")) > 0, f"no Retry-After: {hd}")
        check("full" in js["error"], f"{js}")
        check(len(accepted) > 5, f"only {len(accepted)} fitted")
        st, hd, raw = r.get("/healthz")
        check(st == 503 and "error" in json.loads(raw), f"healthz: {st} {raw}")
        st, _, _ = r.get("/metrics")
        check(st == 200, "/metrics after full map")
        # small deliveries still get answers (503 or 202), never a hang
        st, _, js = post(r, "push", "d-small", b'{"repository":{"id":1,"full_name":"a/b"}}')
        check(st in (202, 503), f"{st}")
        if st == 202:
            accepted.append(js["id"])
        check(r.stop() == 0, "exit after full map")
    evs = queue_events(os.path.join(tmp, "db"))
    check(sorted(e["id"] for e in evs) == sorted(accepted), "acknowledged != stored")


def test_sigterm_finishes_in_flight(tmp):
    r = start_receiver(tmp)
    try:
        acked = []
        lock = threading.Lock()
        stop = threading.Event()

        def sender(k):
            i = 0
            while not stop.is_set():
                try:
                    st, _, js = post(r, "push", f"t-{k}-{i}", make_payload("push", k, f"o/{k}"))
                except OSError:
                    return
                if st in (200, 202):
                    with lock:
                        acked.append(js["id"])
                elif st != 503 and st is not None:
                    return
                i += 1

        threads = [threading.Thread(target=sender, args=(k,)) for k in range(1, 9)]
        for t in threads:
            t.start()
        time.sleep(1.0)
        code = r.stop()
        stop.set()
        for t in threads:
            t.join()
        check(code == 0, f"exit status {code}")
        check(len(acked) > 0, "nothing acknowledged")
        stored = {e["id"] for e in queue_events(r.db)}
        missing = [i for i in acked if i not in stored]
        check(not missing, f"{len(missing)} acknowledged deliveries missing")
        check("stopped" in r.log_text(), "no clean stop logged")
    finally:
        r.kill()


# ----------------------------------------------------------- configuration --

def _run_receiver(env, args=(), tmp=None):
    e = {k: v for k, v in os.environ.items() if not k.startswith("HOOKQ_")}
    e.update(env)
    return subprocess.run([binary("hookq-receiver")] + list(args), env=e, capture_output=True,
                          text=True, timeout=30)


def test_bad_config_exits_2(tmp):
    secret = os.path.join(tmp, "secret")
    with open(secret, "w") as f:
        f.write("s3cret\n")
    base = {"HOOKQ_DB": os.path.join(tmp, "db"), "HOOKQ_WEBHOOK_SECRET_FILE": secret,
            "HOOKQ_LISTEN": f"127.0.0.1:{free_port()}"}
    cases = [
        ("HOOKQ_MAP_SIZE", "big"), ("HOOKQ_LISTEN", "nowhere"), ("HOOKQ_WEBHOOK_PATH", "hook"),
        ("HOOKQ_EVENTS", ","), ("HOOKQ_MAX_BODY", "25 MiB"), ("HOOKQ_LOG_FORMAT", "yaml"),
        ("HOOKQ_LOG_LEVEL", "chatty"), ("HOOKQ_DEDUP_WINDOW", "1 week"), ("HOOKQ_SYNC", "nope"),
        ("HOOKQ_RECEIVER_THREADS", "-3"), ("HOOKQ_WEBHOOK_SECRET_FILE", "/nonexistent"),
        ("HOOKQ_MAX_PENDING", "lots"),
    ]
    for var, value in cases:
        env = dict(base)
        env[var] = value
        p = _run_receiver(env)
        check(p.returncode == 2, f"{var}={value}: exit {p.returncode} {p.stderr}")
        lines = p.stderr.strip().splitlines()
        check(len(lines) == 1 and var in lines[0], f"{var}={value}: {p.stderr!r}")
        check("s3cret" not in p.stderr, "secret printed")
    env = dict(base)
    del env["HOOKQ_WEBHOOK_SECRET_FILE"]
    p = _run_receiver(env)
    check(p.returncode == 2 and "HOOKQ_WEBHOOK_SECRET_FILE" in p.stderr, f"{p.stderr}")
    p = _run_receiver(base, ["--bogus"])
    check(p.returncode == 2, "unknown argument")
    check(not os.path.exists(os.path.join(tmp, "db", "data.mdb")), "db created on bad config")


def test_help_and_version(tmp):
    p = _run_receiver({}, ["--help"])
    check(p.returncode == 0, "--help exit")
    for var in ("HOOKQ_DB", "HOOKQ_MAP_SIZE", "HOOKQ_LISTEN", "HOOKQ_WEBHOOK_PATH",
                "HOOKQ_WEBHOOK_SECRET_FILE", "HOOKQ_EVENTS", "HOOKQ_MAX_BODY", "HOOKQ_LOG_FORMAT",
                "HOOKQ_LOG_LEVEL", "HOOKQ_DEDUP_WINDOW", "HOOKQ_SYNC"):
        check(var in p.stdout, f"--help misses {var}")
    check("25MiB" in p.stdout and "127.0.0.1:8080" in p.stdout, "defaults missing")
    p = _run_receiver({}, ["--version"])
    check(p.returncode == 0 and p.stdout.startswith("hookq-receiver "), f"{p.stdout}")


def test_emptied_database_is_named_at_start(tmp):
    """What a power loss under HOOKQ_SYNC=false leaves, an empty data.mdb:
    hookqctl refuses it by name (exit 3) instead of "Bad file descriptor";
    the receiver starts a new queue in it but logs an error saying what it
    found, and then takes deliveries."""
    db = os.path.join(tmp, "db")
    os.makedirs(db)
    open(os.path.join(db, "data.mdb"), "wb").close()
    out = hookqctl("stats", "--json", db=db)
    check(out.returncode == 3 and "empty or truncated" in out.stderr and out.stdout == "",
          f"hookqctl on an emptied database: {out.returncode} {out.stderr!r}")
    r = start_receiver(tmp, secrets=[SECRET], db=db)
    try:
        errors = [ln for ln in r.log_lines()
                  if ln.get("level") == "error" and "data.mdb was empty" in ln.get("msg", "")]
        check(len(errors) == 1, f"no error line naming the empty data.mdb: {r.log_text()}")
        st, _, js = post_delivery(r.url, "push", "after-loss-1", make_payload("push", 5, "o/r"),
                                  secret=SECRET)
        check(st == 202 and js.get("result") == "accepted", f"after the notice: {st} {js}")
    finally:
        r.stop()
    out = hookqctl("stats", "--json", db=db)
    check(out.returncode == 0 and json.loads(out.stdout)["queued"] == 1,
          f"the new queue: {out.returncode} {out.stdout} {out.stderr}")


TESTS = [(name, fn) for name, fn in list(globals().items()) if name.startswith("test_")]

if __name__ == "__main__":
    run_tests(TESTS)
