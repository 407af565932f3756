"""kill -9 of hookq-worker at random moments under load, 20+ rounds (issue 4):
at the end every event is done or dead-lettered, fakehub's record never shows
two events of one repository interleaved, and a check ran twice only when a
kill hit during (or right after) that check."""

import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hqlib  # noqa: E402
from hqlib import check  # noqa: E402
from hqworker import Pipeline, sha_for  # noqa: E402

REPOS, PER_REPO, ROUNDS = 20, 15, 22


def test_kill_9_worker_rounds(tmp):
    # HOOKQ_TEST_QUEUE=postgresql: the same rounds on a PostgreSQL database.
    pg = os.environ.get("HOOKQ_TEST_QUEUE") == "postgresql"
    p = Pipeline(tmp, fakehub_args=["--latency-ms", "5"], db=hqlib.pg_database() if pg else None)
    try:
        runs = os.path.join(tmp, "runs")
        cmd = (f"sh -c 'echo start $HOOKQ_SHA $(date +%s.%N) >> {runs}; sleep 0.03; "
               f"echo end $HOOKQ_SHA $(date +%s.%N) >> {runs}; echo ok'")
        order = {}
        for r in range(1, REPOS + 1):
            name = f"octo/c{r}"
            order[name] = [sha_for(name, i) for i in range(PER_REPO)]
        for i in range(PER_REPO):
            for r in range(1, REPOS + 1):
                name = f"octo/c{r}"
                p.deliver("push", 500 + r, name, f"{name}-{i}", order[name][i])
        env = {"HOOKQ_WORKERS": 8, "HOOKQ_LEASE": "1s", "HOOKQ_MAX_ATTEMPTS": 100}
        rng = random.Random(11)
        kills = []
        for _ in range(ROUNDS):
            w = p.start_worker(check_cmd=cmd, env=env)
            time.sleep(rng.uniform(0.15, 0.7))
            kills.append(time.time())
            w.kill()
            p.workers.remove(w)
        p.start_worker(check_cmd=cmd, env=env)
        st = p.wait_drained(timeout=240)
        check(st["queued"] == 0, f"stuck events: {st}")
        total = REPOS * PER_REPO
        done = st.get("done_total", total - st.get("dead", 0))
        check(done + st.get("dead", 0) == total, f"lost events: {st}")

        # Per repository: each event's statuses form one contiguous block, in
        # delivery order, ending with its final state (pending may repeat).
        got = p.statuses_by_repo()
        for name, shas in order.items():
            seq = got.get(name, [])
            blocks = []
            for sha, state in seq:
                if not blocks or blocks[-1][0] != sha:
                    blocks.append([sha, []])
                blocks[-1][1].append(state)
            check([b[0] for b in blocks] == shas,
                  f"{name}: events interleaved or missing: {[b[0][:7] for b in blocks]}")
            for sha, states in blocks:
                check(states[-1] == "success", f"{name} {sha[:7]} ended {states}")

        # A check ran to its end twice only if a kill came between its first
        # end and the next start (the result was not recorded yet).
        ends, starts = {}, {}
        for line in open(runs).read().splitlines():
            what, sha, t = line.split()
            (ends if what == "end" else starts).setdefault(sha, []).append(float(t))
        twice = {sha: t for sha, t in ends.items() if len(t) > 1}
        for sha, t in twice.items():
            later_starts = [s for s in starts[sha] if s > t[0]]
            check(any(t[0] - 0.05 <= k <= later_starts[0] for k in kills),
                  f"check for {sha[:7]} ran twice without a kill in between")
        print(f"  {ROUNDS} kills; {len(twice)} checks re-ran after a kill; "
              f"{sum(len(v) for v in starts.values())} check starts for {total} events",
              flush=True)
    finally:
        p.close()


TESTS = [(n[5:], f) for n, f in sorted(globals().items()) if n.startswith("test_")]

if __name__ == "__main__":
    hqlib.run_tests(TESTS)
