"""Several hosts on one PostgreSQL queue (issue 8): two receivers and two
worker processes share one database, as they would on separate machines.
Under load, a receiver and a worker are killed with SIGKILL and PostgreSQL
itself crashes (pg_ctl restart -m immediate) and recovers. At the end every
delivery a receiver acknowledged has its final status at fakehub, each
repository's events in the order they were acknowledged and never
interleaved, and a check ran twice only for an event in flight at a crash.

The test runs its own cluster (tests/tools/pg_cluster.sh), not the suite's
shared one, since it crashes it."""

import os
import random
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fakehublib  # noqa: E402
import hqlib  # noqa: E402
from hqlib import check  # noqa: E402
from hqworker import sha_for, start_worker  # noqa: E402

SECRET = b"pg pipeline secret"
APP_ID = 4343
REPOS, PER_REPO = 12, 40


class Cluster:
    """A private PostgreSQL cluster in dir, with one database for the test."""

    def __init__(self, workdir):
        hqlib.pg_database()  # skips without the tests' cluster
        os.chmod(workdir, 0o711)  # the server's user must reach its directory
        self.script = os.path.join(hqlib.source_dir(), "tests", "tools", "pg_cluster.sh")
        self.dir = os.path.join(workdir, "pgc")
        subprocess.run([self.script, "start", self.dir], check=True, timeout=120,
                       capture_output=True)
        with open(os.path.join(self.dir, "uri")) as f:
            base = f.read().strip()
        hqlib.pg_sql(base + "/postgres", "CREATE DATABASE hookq_hosts")
        self.uri = base + "/hookq_hosts"

    def crash(self):
        """An immediate stop (no checkpoint, as a crash) and a restart."""
        subprocess.run([self.script, "restart", self.dir], check=True, timeout=120,
                       capture_output=True)

    def close(self):
        subprocess.run([self.script, "stop", self.dir], timeout=120, capture_output=True)


class Sender(threading.Thread):
    """Sends one repository's deliveries in order, each until a receiver
    acknowledges it (another receiver after a refusal or a dead connection,
    as a load balancer would), and records the order of the 2xx answers."""

    def __init__(self, receivers, repo_id, name, shas, stop):
        super().__init__(daemon=True)
        self.receivers, self.repo_id, self.name, self.shas = receivers, repo_id, name, shas
        self.stop_at = stop
        self.acked = []  # shas in the order a receiver answered 2xx
        self.dups = 0  # deliveries answered 200 (already stored) on a second receiver
        self.refused = 0  # 503 and dead connections on the way
        self.error = None

    def run(self):
        rng = random.Random(self.repo_id)
        try:
            for i, sha in enumerate(self.shas):
                body = hqlib.make_payload("push", self.repo_id, self.name, sha=sha,
                                          installation_id=7, size_kb=2)
                delivery = f"{self.name}-{i}"
                k = rng.randrange(2)
                tries = 0
                while True:
                    if time.time() > self.stop_at:
                        raise RuntimeError(f"{delivery}: never acknowledged")
                    url = self.receivers[k % 2]()
                    k += 1
                    try:
                        st, _, _ = hqlib.post_delivery(url, "push", delivery, body, secret=SECRET)
                    except OSError:
                        st = None
                    if st in (200, 202):
                        if tries > 0 and st == 200:
                            self.dups += 1
                        break
                    check(st in (None, 503), f"{delivery}: answered {st}")
                    self.refused += 1
                    tries += 1
                    time.sleep(0.05)
                self.acked.append(sha)
                # Half the deliveries also reach the other receiver: stored once.
                if i % 2 == 0:
                    try:
                        st, _, js = hqlib.post_delivery(self.receivers[k % 2](), "push", delivery,
                                                        body, secret=SECRET)
                        check(st in (200, None, 503), f"{delivery} again: answered {st} {js}")
                    except OSError:
                        pass
                time.sleep(rng.uniform(0.05, 0.15))
        except Exception as e:  # reported by the test
            self.error = e


def test_two_receivers_two_workers_kills_and_a_postgres_crash(tmp):
    pg = Cluster(tmp)
    key, pub = fakehublib.make_app_key(tmp)
    hub = fakehublib.start_fakehub(tmp, "--app-id", APP_ID, "--app-public-key", pub,
                                   "--latency-ms", "5")
    api = f"http://127.0.0.1:{hub.port}"
    renv = {"HOOKQ_MAP_SIZE": None}
    rcv = [hqlib.start_receiver(os.path.join(tmp, f"r{i}"), secrets=[SECRET], env=renv, db=pg.uri)
           for i in range(2)]
    runs = os.path.join(tmp, "runs")
    cmd = f"sh -c 'echo $HOOKQ_SHA $(date +%s.%N) >> {runs}; sleep 0.02; echo ok'"
    wenv = {"HOOKQ_WORKERS": 4, "HOOKQ_LEASE": "2s", "HOOKQ_MAX_ATTEMPTS": 1000,
            "HOOKQ_MAP_SIZE": None}
    workers = []

    def worker(name):
        w = start_worker(tmp, pg.uri, api, APP_ID, key, check_cmd=cmd, env=wenv, name=name)
        workers.append(w)
        return w

    try:
        w = [worker("w0"), worker("w1")]
        order = {}
        for r in range(1, REPOS + 1):
            name = f"octo/pg{r}"
            order[name] = [sha_for(name, i) for i in range(PER_REPO)]
        stop_at = time.time() + 240
        senders = [Sender([lambda: rcv[0].url, lambda: rcv[1].url], 900 + r, name, shas, stop_at)
                   for r, (name, shas) in enumerate(order.items(), 1)]
        for s in senders:
            s.start()

        crashes = []  # (time, what)
        time.sleep(0.8)
        crashes.append((time.time(), "receiver 0"))
        rcv[0].kill()
        time.sleep(0.5)
        rcv[0] = hqlib.start_receiver(os.path.join(tmp, "r0"), secrets=[SECRET], env=renv,
                                      db=pg.uri)
        time.sleep(0.5)
        crashes.append((time.time(), "worker 0"))
        w[0].kill()
        w[0] = worker("w0b")
        time.sleep(0.5)
        crashes.append((time.time(), "postgresql"))
        pg.crash()
        crashes.append((time.time(), "postgresql up"))
        # Both receivers say so while the database was away, and come back.
        for r in rcv:
            deadline = time.time() + 30
            while time.time() < deadline:
                st, _, _ = r.get("/healthz")
                if st == 200:
                    break
                time.sleep(0.1)
            check(st == 200, f"receiver /healthz after the restart: {st}")

        for s in senders:
            s.join(timeout=300)
            check(s.error is None, f"{s.name}: {s.error}")
        deadline = time.time() + 180
        st = None
        while time.time() < deadline:
            st = hqlib.queue_stats(pg.uri)
            if st.get("queued", 1) == 0:
                break
            time.sleep(0.3)
        check(st is not None and st.get("queued") == 0, f"not drained: {st}")
        check(st.get("dead", 0) == 0, f"dead letters: {st}")

        # Every acknowledged delivery ends with its final status, in order,
        # each event's statuses one contiguous block.
        got = {}
        for r in hub.statuses():
            got.setdefault(r["repo"], []).append((r["sha"], r["body"]["state"]))
        for s in senders:
            check(s.acked == order[s.name], f"{s.name}: acknowledged out of order")
            blocks = []
            for sha, state in got.get(s.name, []):
                if not blocks or blocks[-1][0] != sha:
                    blocks.append([sha, []])
                blocks[-1][1].append(state)
            check([b[0] for b in blocks] == s.acked,
                  f"{s.name}: events interleaved, missing or repeated: "
                  f"{[b[0][:7] for b in blocks]}")
            for sha, states in blocks:
                check(states[-1] == "success", f"{s.name} {sha[:7]}: ended {states}")
        # Stored once: enqueued_total counts each delivery once.
        check(st.get("enqueued_total") == REPOS * PER_REPO,
              f"enqueued_total {st.get('enqueued_total')} != {REPOS * PER_REPO}")
        # A check ran twice only for an event in flight at a crash.
        seen = {}
        with open(runs) as f:
            for line in f:
                sha, at = line.split()
                seen.setdefault(sha, []).append(float(at))
        for sha, ats in seen.items():
            for at in ats[1:]:
                near = any(t - 3.0 <= at <= t + 6.0 for t, _ in crashes)
                check(near, f"{sha[:7]} ran again at {at}, not near a crash {crashes}")
        refused = sum(s.refused for s in senders)
        print(f"  {REPOS * PER_REPO} deliveries over 2 receivers; {refused} refused or cut "
              f"during the crashes; {sum(len(a) - 1 for a in seen.values())} checks repeated")
    finally:
        for p in workers + rcv:
            if p.proc.poll() is None:
                p.kill()
        hub.stop()
        pg.close()


if __name__ == "__main__":
    hqlib.run_tests([(n, f) for n, f in sorted(globals().items()) if n.startswith("test_")])
