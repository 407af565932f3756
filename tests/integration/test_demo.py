"""Integration test of deploy/demo.sh, README command one.

Runs the demo against the binaries of this build (HOOKQ_BUILD, no
install-deps) with its work directory under the test's own temporary
directory, and asserts on what it reports in HOOKQ_DEMO_SUMMARY and prints:
every repository got its statuses in the order its deliveries were sent,
WIP commits failed and the rest passed, the broken repository was
dead-lettered and its replay went through, the duplicate and the badly signed
delivery got 200 and 401, every service it started exited 0 and is gone,
and the whole run took less than two minutes. A second test stops the demo
half-way with SIGTERM and checks that it still stops everything it started.
The *_postgresql tests run the same with --postgres, on the demo's own
PostgreSQL cluster, and check that the cluster is gone afterwards too; they
skip on a machine without a PostgreSQL server.
"""

import glob
import json
import os
import re
import select
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hqlib  # noqa: E402
from hqlib import check  # noqa: E402

BINARIES = ("hookq-receiver", "hookq-worker", "fakehub")


def demo_path():
    return os.path.join(hqlib.source_dir(), "deploy", "demo.sh")


def demo_env(tmp, summary):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOOKQ_")}
    env.update({
        "HOOKQ_BUILD": hqlib.build_dir(),
        "HOOKQ_DEMO_SKIP_DEPS": "1",
        "HOOKQ_DEMO_SUMMARY": summary,
        "TMPDIR": tmp,
    })
    return env


def start_demo(tmp, summary, *args):
    """The demo in its own session, so that a timeout can stop all of it."""
    return subprocess.Popen(["bash", demo_path(), *args], env=demo_env(tmp, summary),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)


def stop_group(proc):
    """Ends what is left of a demo that overran: its process group."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def alive_service(pid):
    """True when pid still runs one of this build's services."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv0 = f.read().split(b"\0")[0].decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            if f.read().rsplit(b")", 1)[1].split()[0] == b"Z":
                return False
    except (FileNotFoundError, IndexError):
        return False
    return os.path.basename(argv0) in BINARIES


def sanitized_build():
    """True for a HOOKQ_SANITIZE or HOOKQ_TSAN build: then the demo keeps its
    work directory so that run_tests finds sanitizer reports in its logs."""
    try:
        with open(os.path.join(hqlib.build_dir(), "CMakeCache.txt"), encoding="utf-8") as f:
            cache = f.read()
    except FileNotFoundError:
        return False
    return any(f"{opt}:BOOL=ON" in cache for opt in ("HOOKQ_SANITIZE", "HOOKQ_TSAN"))


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def need_postgresql():
    """Skips the test on a machine without a PostgreSQL server to run."""
    if not glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        hqlib.skip("no PostgreSQL server (/usr/lib/postgresql/*/bin/initdb): "
                   "demo.sh --postgres cannot run here")


def check_postgresql_gone(text):
    """The demo said which cluster it ran on, and removed it: neither its
    directory nor any process of it is left."""
    m = re.search(r"^  postgresql +\S+ +(postgresql://hookq@127\.0\.0\.1:\d+/hookq_demo)"
                  r" +\(a private cluster in (/tmp/hookq-demo-pg\.\w+)/cluster\)$", text, re.M)
    check(m is not None, f"no cluster line in the output:\n{text[:3000]}")
    check(f"(queue in {m.group(1)})" in text, "the receiver does not use the cluster's database")
    pg_dir = m.group(2)
    check(not os.path.exists(pg_dir), f"{pg_dir} is left")
    left = []
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if pg_dir.encode() in f.read():
                    left.append(pid)
        except (FileNotFoundError, ProcessLookupError, NotADirectoryError, PermissionError):
            pass
    check(left == [], f"processes of the cluster still run: {left}")


def test_demo_runs_the_whole_flow(tmp):
    whole_flow(tmp)


def test_demo_runs_the_whole_flow_postgresql(tmp):
    need_postgresql()
    text = whole_flow(tmp, "--postgres")
    check_postgresql_gone(text)


def whole_flow(tmp, *args):
    summary_path = os.path.join(tmp, "summary.json")
    keep = sanitized_build()
    t0 = time.monotonic()
    proc = start_demo(tmp, summary_path, *args, *(["--keep"] if keep else []))
    try:
        out, _ = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        stop_group(proc)
        raise hqlib.TestFailure("deploy/demo.sh took more than 120 s")
    elapsed = time.monotonic() - t0
    text = out.decode("utf-8", "replace")
    with open(os.path.join(tmp, "demo.out"), "w", encoding="utf-8") as f:
        f.write(text)
    check(proc.returncode == 0, f"demo exited {proc.returncode}:\n{text[-4000:]}")
    check(elapsed < 120, f"demo took {elapsed:.1f}s")
    s = load(summary_path)
    check(s["ok"] is True and s["problems"] == [], f"demo problems: {s['problems']}")

    # Every delivery was answered as GitHub expects.
    answers = s["deliveries"]["answers"]
    deliveries = [a for a in answers if a["kind"] == "delivery"]
    check(len(deliveries) >= 20, f"only {len(deliveries)} deliveries")
    check(all(a["status"] == 202 and a["result"] == "accepted" for a in deliveries),
          f"not all accepted: {[a for a in deliveries if a['status'] != 202]}")
    check({a["event"] for a in deliveries} == {"push", "pull_request"}, "events")
    kinds = {a["kind"]: a for a in answers if a["kind"] != "delivery"}
    check(kinds["duplicate"]["status"] == 200 and kinds["duplicate"]["result"] == "duplicate",
          f"duplicate: {kinds['duplicate']}")
    dup_of = [a for a in deliveries if a["delivery"] == kinds["duplicate"]["delivery"]]
    check(len(dup_of) == 1, "the duplicate repeats an earlier delivery id")
    check(kinds["bad_signature"]["status"] == 401, f"bad signature: {kinds['bad_signature']}")

    # Statuses: every repository, in the order its deliveries were sent;
    # pending before the final state of each commit; WIP fails, the rest pass.
    repos = s["repositories"]
    check(len(repos) >= 4, f"repositories: {repos}")
    check(set(repos) == set(s["statuses"]), f"statuses for {sorted(s['statuses'])}")
    states = set()
    for repo in repos:
        sent = [a["sha"] for a in deliveries if a["repo"] == repo]
        posted = s["statuses"][repo]
        finals = [p["sha"] for p in posted if p["state"] != "pending"]
        check(finals == sent, f"{repo}: final statuses {finals} != sent order {sent}")
        for sha in sent:
            seq = [p["state"] for p in posted if p["sha"] == sha]
            check(seq[0] == "pending" and seq[-1] in ("success", "failure"),
                  f"{repo} {sha[:7]}: states {seq}")
        for f in s["final"][repo]:
            check(f["state"] == f["expect"], f"{repo} {f['sha'][:7]}: {f}")
            check(f["description"], f"{repo} {f['sha'][:7]}: no description")
            states.add(f["state"])
    check(states == {"success", "failure"}, f"states {states}")

    # The dead letters: only the broken repository's, for its 422; nothing of
    # it arrived before the replay, all of it after; none left.
    dead = s["dead_letters_before_replay"]
    broken = {d["repo"] for d in dead}
    check(len(dead) >= 1 and len(broken) == 1, f"dead letters: {dead}")
    broken = broken.pop()
    check(all("422" in d["reason"] for d in dead), f"reasons: {[d['reason'] for d in dead]}")
    check(s["stats_before_replay"]["dead"] == len(dead), f"stats: {s['stats_before_replay']}")
    check(broken not in s["statuses_before_replay"], "broken repo had statuses before replay")
    check(len(s["statuses_before_replay"]) == len(repos) - 1, "others before the replay")
    check(len([f for f in s["final"][broken] if f["state"] == "success"]) == len(dead),
          f"after the replay: {s['final'][broken]}")
    check(s["dead_after_replay"] == 0 and s["stats_after_replay"]["queued"] == 0,
          f"after the replay: {s['stats_after_replay']}")

    # The outage: GitHub's pushes failed while the receiver was down, and
    # catch-up enqueued each once; each got exactly one final status.
    cu = s["catch_up"]
    check(len(cu["sent"]) >= 1 and all(x["status_code"] == 0 for x in cu["sent"]),
          f"outage deliveries: {cu['sent']}")
    check(all(x["state"] == "success" and x["finals"] == 1 for x in cu["sent"]),
          f"caught-up statuses: {cu['sent']}")
    check(sorted(r["guid"] for r in cu["results"]) == sorted(x["delivery"] for x in cu["sent"]),
          f"catch-up reported exactly the missed deliveries: {cu['results']}")

    # Every service it started stopped on SIGTERM with status 0 and is gone.
    names = [x["name"] for x in s["services"]]
    for n in ("fakehub", "hookq-receiver", "hookq-worker"):
        check(n in names, f"{n} not among {names}")
    check(names.count("fakehub") >= 2, "fakehub was restarted for the replay")
    for svc in s["services"]:
        check(svc["exit_code"] == 0, f"{svc}")
        check(not alive_service(svc["pid"]), f"{svc} still runs")

    # What a person reads: the sections, the answers, the dead letter, the replay.
    for needle in ("== 1.", "== 4.", "== 5.", "== 6.", "== 7.", "== 8.", "200 duplicate",
                   "401 refused", "$ hookqctl stats", "$ hookqctl dlq list",
                   "$ hookqctl dlq show", "HTTP 422", "replayed", "== 9.", "$ hookqctl catch-up",
                   "would_enqueue", "failed to connect", "hookq demo: ok:"):
        check(needle in text, f"output lacks {needle!r}")
    for repo in repos:
        check(f"\n  {repo}\n" in text, f"output lists no statuses for {repo}")
    check("-> failure" in text and "-> success" in text, "states in the output")
    # The work directory is removed without --keep, kept with it.
    left = [d for d in os.listdir(tmp) if d.startswith("hookq-demo.")]
    if keep:
        check(len(left) == 1 and "work directory kept" in text, f"kept: {left}")
        logs = os.listdir(os.path.join(tmp, left[0]))
        check({"receiver.log", "worker.log", "fakehub.log"} <= set(logs), f"kept: {logs}")
    else:
        check(left == [], f"work directory left: {left}")
    print(f"     demo took {elapsed:.1f}s", flush=True)
    return text


def test_demo_stopped_midway_stops_what_it_started(tmp):
    stopped_midway(tmp)


def test_demo_stopped_midway_postgresql(tmp):
    need_postgresql()
    text = stopped_midway(tmp, "--postgres")
    check_postgresql_gone(text)
    kept = [d for d in os.listdir(tmp) if d.startswith("hookq-demo.")]
    check(len(kept) == 1 and os.path.exists(os.path.join(tmp, kept[0], "postgresql.log")),
          f"the kept work directory has no postgresql.log: {kept}")


def stopped_midway(tmp, *args):
    summary_path = os.path.join(tmp, "summary.json")
    proc = start_demo(tmp, summary_path, *args)
    seen = b""
    try:
        deadline = time.monotonic() + 60
        while b"== 4." not in seen:
            left = deadline - time.monotonic()
            check(left > 0 and proc.poll() is None, f"no step 4 within 60 s:\n{seen[-3000:]}")
            ready, _, _ = select.select([proc.stdout], [], [], left)
            if ready:
                chunk = os.read(proc.stdout.fileno(), 65536)
                check(chunk != b"", f"demo ended early:\n{seen[-3000:]}")
                seen += chunk
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        stop_group(proc)
        raise hqlib.TestFailure("the demo did not end within 60 s of SIGTERM")
    text = (seen + out).decode("utf-8", "replace")
    check(proc.returncode not in (0, None), f"demo exited {proc.returncode} after SIGTERM")
    check("interrupted by SIGTERM" in text, f"no failure line:\n{text[-3000:]}")
    s = load(summary_path)
    check(s["ok"] is False and s["problems"], f"summary after SIGTERM: {s['problems']}")
    names = sorted(x["name"] for x in s["services"])
    check(names == ["fakehub", "hookq-receiver", "hookq-worker"], f"started: {names}")
    for svc in s["services"]:
        check(not alive_service(svc["pid"]), f"{svc} still runs after the demo ended")
    check("work directory kept" in text, "a failed demo keeps its work directory")
    return text


def test_demo_arguments(tmp):
    env = demo_env(tmp, os.path.join(tmp, "unused.json"))
    r = subprocess.run(["bash", demo_path(), "--help"], env=env, capture_output=True,
                       text=True, timeout=30, stdin=subprocess.DEVNULL)
    check(r.returncode == 0 and "--keep" in r.stdout and "HOOKQ_BUILD" in r.stdout and
          "--checks" in r.stdout and "--postgres" in r.stdout,
          f"--help: {r.returncode} {r.stdout!r} {r.stderr!r}")
    r = subprocess.run(["bash", demo_path(), "--no-such-flag"], env=env, capture_output=True,
                       text=True, timeout=30, stdin=subprocess.DEVNULL)
    check(r.returncode == 2 and "--no-such-flag" in r.stderr, f"bad flag: {r.returncode}")
    check(not [d for d in os.listdir(tmp) if d.startswith("hookq-demo.")],
          "a usage error made a work directory")


def test_demo_with_check_runs(tmp):
    check_runs(tmp)


def test_demo_with_check_runs_postgresql(tmp):
    need_postgresql()
    check_postgresql_gone(check_runs(tmp, "--postgres"))


def check_runs(tmp, *args):
    """--checks: one completed check run per accepted delivery, the broken
    repository dead-lettered, every service exited 0."""
    proc = start_demo(tmp, os.path.join(tmp, "summary.json"), "--checks", *args)
    try:
        out, _ = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        stop_group(proc)
        raise hqlib.TestFailure("deploy/demo.sh --checks took more than 120 s")
    text = out.decode("utf-8", "replace")
    check(proc.returncode == 0, f"demo --checks exited {proc.returncode}:\n{text[-4000:]}")
    check("the check runs GitHub received" in text, "no check runs shown")
    check(" completed success " in text and " completed failure " in text, text[-3000:])
    check("creating the check run: HTTP 422" in text, "octo/broken was not dead-lettered")
    check("hookq demo (check runs): ok:" in text, text[-500:])
    return text


TESTS = [
    ("demo_runs_the_whole_flow", test_demo_runs_the_whole_flow),
    ("demo_with_check_runs", test_demo_with_check_runs),
    ("demo_stopped_midway_stops_what_it_started", test_demo_stopped_midway_stops_what_it_started),
    ("demo_arguments", test_demo_arguments),
    ("demo_runs_the_whole_flow_postgresql", test_demo_runs_the_whole_flow_postgresql),
    ("demo_with_check_runs_postgresql", test_demo_with_check_runs_postgresql),
    ("demo_stopped_midway_postgresql", test_demo_stopped_midway_postgresql),
]

if __name__ == "__main__":
    hqlib.run_tests(TESTS)
