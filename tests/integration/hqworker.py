"""Starting hookq-worker, and a whole pipeline (fakehub + receiver + worker),
for the integration tests, the benchmarks and the demo. Python stdlib only."""

import os
import subprocess
import time

import fakehublib
import hqlib

CHECK_OK = "sh -c 'cat >/dev/null; echo \"all good for $HOOKQ_SHA\"'"


class Worker(hqlib.Service):
    """A running hookq-worker started by start_worker(); its port is the
    metrics port."""

    def __init__(self, proc, metrics_port, log, env):
        super().__init__(proc, metrics_port, log)
        self.metrics_port = metrics_port
        self.env = env

    def stop(self, timeout=60.0):
        return super().stop(timeout)


def start_worker(workdir, db, api_url, app_id=None, app_key=None, token_file=None,
                 check_cmd=CHECK_OK, env=None, wait=True, name="worker"):
    """Starts hookq-worker on db against api_url; waits until /healthz answers."""
    port = hqlib.free_port()
    e = {k: v for k, v in os.environ.items() if not k.startswith("HOOKQ_")}
    e.update({
        "HOOKQ_DB": db, "HOOKQ_MAP_SIZE": "256MiB", "HOOKQ_GITHUB_API": api_url,
        "HOOKQ_CHECK_CMD": check_cmd, "HOOKQ_METRICS_LISTEN": f"127.0.0.1:{port}",
        "HOOKQ_WORKERS": "8", "HOOKQ_BACKOFF_BASE": "50ms", "HOOKQ_BACKOFF_MAX": "500ms",
        "HOOKQ_PACING": "false",
    })
    if app_id is not None:
        e["HOOKQ_APP_ID"] = str(app_id)
        e["HOOKQ_APP_KEY_FILE"] = app_key
    if token_file is not None:
        e["HOOKQ_TOKEN_FILE"] = token_file
    for k, v in (env or {}).items():
        if v is None:
            e.pop(k, None)
        else:
            e[k] = str(v)
    log = os.path.join(workdir, f"{name}-{port}.log")
    with open(log, "ab") as logf:
        proc = subprocess.Popen([hqlib.binary("hookq-worker")], env=e, stdout=logf, stderr=logf,
                                stdin=subprocess.DEVNULL)
    w = Worker(proc, port, log, e)
    if not wait or w.wait_up():
        return w
    raise RuntimeError("hookq-worker did not start:\n" + w.log_text())


class Pipeline:
    """fakehub + receiver + worker(s) in workdir, with a GitHub App key."""

    SECRET = b"pipeline secret"
    APP_ID = 4242

    def __init__(self, workdir, fakehub_args=(), receiver_env=None, db=None):
        """db: the queue (HOOKQ_DB), workdir/db (LMDB) when None."""
        self.workdir = workdir
        self.key, self.pub = fakehublib.make_app_key(workdir)
        self.hub = fakehublib.start_fakehub(workdir, "--app-id", self.APP_ID,
                                            "--app-public-key", self.pub, *fakehub_args)
        self.api = f"http://127.0.0.1:{self.hub.port}"
        self.receiver = hqlib.start_receiver(os.path.join(workdir, "receiver"),
                                             secrets=[self.SECRET], env=receiver_env or {},
                                             db=db or os.path.join(workdir, "db"))
        self.db = self.receiver.db
        self.workers = []

    def start_worker(self, check_cmd=CHECK_OK, env=None, wait=True):
        w = start_worker(self.workdir, self.db, self.api, self.APP_ID, self.key,
                         check_cmd=check_cmd, env=env, wait=wait)
        self.workers.append(w)
        return w

    def deliver(self, event, repo_id, repo_name, delivery, sha, action=None, installation=7,
                size_kb=2):
        body = hqlib.make_payload(event, repo_id, repo_name, action=action, sha=sha,
                                  installation_id=installation, size_kb=size_kb)
        st, _, js = hqlib.post_delivery(self.receiver.url, event, delivery, body,
                                        secret=self.SECRET)
        if st not in (200, 202):
            raise RuntimeError(f"receiver answered {st} {js} for {delivery}")
        return st, js

    def wait_drained(self, timeout=120, dead=0):
        """Waits until the queue is empty (done or dead); returns the stats."""
        deadline = time.time() + timeout
        st = None
        while time.time() < deadline:
            st = hqlib.queue_stats(self.db)
            if st.get("queued", 1) == 0:
                return st
            time.sleep(0.2)
        raise RuntimeError(f"queue not drained after {timeout}s: {st}")

    def statuses_by_repo(self):
        """{repo: [(sha, state), ...]} of successful status posts, in order."""
        out = {}
        for r in self.hub.statuses():
            out.setdefault(r["repo"], []).append((r["sha"], r["body"]["state"]))
        return out

    def close(self):
        for w in self.workers:
            if w.proc.poll() is None:
                w.stop()
        if self.receiver.proc.poll() is None:
            self.receiver.stop()
        self.hub.stop()


def sha_for(repo, i):
    """A deterministic 40-hex sha per (repo, i)."""
    import hashlib
    return hashlib.sha1(f"{repo}/{i}".encode()).hexdigest()
