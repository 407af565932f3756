"""hqlib: shared helpers of the integration tests (python3 standard library only).

The tests start the real binaries on loopback, each with its own temporary
directory. This module finds the binaries (HOOKQ_BUILD_DIR), starts and stops
a receiver, signs and posts deliveries the way GitHub does, builds realistic
GitHub-shaped payloads, and reads the queue back (hookqctl, or mdb_dump as a
fallback while hookqctl lacks a command).

Stable API (other test files import it):
  build_dir(), source_dir(), binary(name), free_port(), sign(secret, body)
  start_receiver(workdir, secrets=[b'...'], env={}) -> Receiver
      .port .url (webhook URL) .base .db .proc .log .stop() .kill()
  post_delivery(url_or_port, event, delivery, body, secret=None, hook_id='1',
                content_type='application/json', extra_headers={})
      -> (status, headers, parsed_json_or_None)
  hookqctl(*args, db=...) -> subprocess.CompletedProcess
  make_payload(event, repo_id, repo_name, action=None, size_kb=None,
               installation_id=None, sha=None) -> bytes
"""

import hashlib
import hmac
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import zlib

__all__ = [
    "build_dir", "source_dir", "binary", "free_port", "sign", "start_receiver", "Receiver",
    "post_delivery", "http_request", "hookqctl", "make_payload", "queue_events", "queue_stats",
    "metrics", "TestFailure", "check", "run_tests", "pg_database", "pg_sql",
]


def build_dir():
    """The CMake build directory (HOOKQ_BUILD_DIR, else ../../build from here)."""
    d = os.environ.get("HOOKQ_BUILD_DIR")
    if d:
        return os.path.abspath(d)
    return os.path.abspath(os.path.join(source_dir(), "build"))


def source_dir():
    """The source tree (HOOKQ_SOURCE_DIR, else two levels above this file)."""
    d = os.environ.get("HOOKQ_SOURCE_DIR")
    if d:
        return os.path.abspath(d)
    return os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


_BIN_DIRS = {
    "hookq-receiver": "receiver",
    "hookq-worker": "worker",
    "hookqctl": "worker",
    "fakehub": "tests/fakehub",
}


def binary(name):
    """Absolute path of a built program; raises FileNotFoundError if missing."""
    sub = _BIN_DIRS.get(name, "")
    for cand in (os.path.join(build_dir(), sub, name), os.path.join(build_dir(), name)):
        if os.path.isfile(cand) and os.access(cand, os.X_OK):
            return cand
    raise FileNotFoundError(f"{name} not built in {build_dir()}")


def built(name):
    """Path of a built program, or None when this build has not made it."""
    try:
        return binary(name)
    except FileNotFoundError:
        return None


def free_port():
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sign(secret: bytes, body: bytes) -> str:
    """The X-Hub-Signature-256 value GitHub sends for body."""
    if isinstance(secret, str):
        secret = secret.encode()
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


# ---------------------------------------------------------------- raw HTTP --

def http_request(host, port, method, path, headers=None, body=b"", send_body=True,
                 timeout=30.0, unix_path=None):
    """One HTTP/1.1 request on a fresh connection ("Connection: close").

    Written on a raw socket so that tests control exactly what is sent (a
    Content-Length without the body, a chunked body) and still read an early
    answer. Returns (status, headers with lower-case names, body bytes);
    status is None when the server closed without answering.
    """
    if unix_path:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        sock.connect(unix_path)
    else:
        sock = socket.create_connection((host, port), timeout=timeout)
    try:
        hdrs = {"Host": f"{host}:{port}", "Connection": "close"}
        hdrs.update(headers or {})
        if body is not None and "Content-Length" not in hdrs and \
                hdrs.get("Transfer-Encoding") != "chunked":
            hdrs["Content-Length"] = str(len(body))
        head = f"{method} {path} HTTP/1.1\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in hdrs.items()) + "\r\n"
        try:
            sock.sendall(head.encode("latin-1"))
            if send_body and body:
                sock.sendall(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # an early answer may still be waiting in the receive buffer
        data = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            except socket.timeout:
                break
            if not chunk:
                break
            data += chunk
            if b"\r\n\r\n" in data:
                head_end = data.index(b"\r\n\r\n")
                lines = data[:head_end].decode("latin-1").split("\r\n")
                hd = {}
                for line in lines[1:]:
                    k, _, v = line.partition(":")
                    hd[k.strip().lower()] = v.strip()
                n = int(hd.get("content-length", "-1"))
                if n >= 0 and len(data) >= head_end + 4 + n:
                    break
        if not data or b"\r\n\r\n" not in data:
            return None, {}, b""
        head_end = data.index(b"\r\n\r\n")
        lines = data[:head_end].decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        hd = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            hd[k.strip().lower()] = v.strip()
        rest = data[head_end + 4:]
        n = int(hd.get("content-length", len(rest)))
        return status, hd, rest[:n]
    finally:
        sock.close()


def _target(url_or_port):
    if isinstance(url_or_port, int):
        return "127.0.0.1", url_or_port, "/webhook"
    u = urllib.parse.urlsplit(url_or_port)
    path = u.path if u.path not in ("", "/") else "/webhook"
    return u.hostname, u.port or 80, path


def post_delivery(url_or_port, event, delivery, body: bytes, secret=None, hook_id="1",
                  content_type="application/json", extra_headers=None):
    """POSTs a delivery like GitHub: event, delivery and hook headers, and a
    signature over body when secret is given (None sends no signature; None
    for event/delivery/hook_id/content_type leaves that header out).
    Returns (status, headers, parsed JSON body or None)."""
    host, port, path = _target(url_or_port)
    headers = {"User-Agent": "GitHub-Hookshot/hqlib"}
    if event is not None:
        headers["X-GitHub-Event"] = event
    if delivery is not None:
        headers["X-GitHub-Delivery"] = delivery
    if hook_id is not None:
        headers["X-GitHub-Hook-ID"] = str(hook_id)
    if content_type is not None:
        headers["Content-Type"] = content_type
    if secret is not None:
        headers["X-Hub-Signature-256"] = sign(secret, body)
    headers.update(extra_headers or {})
    status, hd, raw = http_request(host, port, "POST", path, headers, body)
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = None
    return status, hd, parsed


# ---------------------------------------------------------------- receiver --

class Service:
    """A running hookq process: its HTTP port, its log, and how to stop it."""

    def __init__(self, proc, port, log):
        self.proc = proc
        self.port = port
        self.log = log

    def get(self, path, timeout=10.0):
        return http_request("127.0.0.1", self.port, "GET", path, timeout=timeout, body=None)

    def wait_up(self, timeout=15.0):
        """True once /healthz answers; False (process killed and reaped) if it
        exited or did not answer in time."""
        deadline = time.time() + timeout
        while time.time() < deadline and self.proc.poll() is None:
            try:
                st, _, _ = self.get("/healthz", timeout=2)
                if st is not None:
                    return True
            except OSError:
                pass
            time.sleep(0.02)
        self.kill()
        return False

    def metrics(self):
        """Parses /metrics into {'name{labels}': value}."""
        st, _, body = self.get("/metrics")
        if st != 200:
            raise RuntimeError(f"/metrics answered {st}")
        out = {}
        for line in body.decode().splitlines():
            if line and not line.startswith("#"):
                name, _, val = line.rpartition(" ")
                out[name] = float(val)
        return out

    def stop(self, timeout=30.0):
        """SIGTERM, wait, and return the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def kill(self):
        """SIGKILL and reap."""
        if self.proc.poll() is None:
            self.proc.kill()
        return self.proc.wait()

    def log_text(self):
        with open(self.log, "r", errors="replace") as f:
            return f.read()

    def log_lines(self):
        out = []
        for line in self.log_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                out.append({"raw": line})
        return out


class Receiver(Service):
    """A running hookq-receiver started by start_receiver()."""

    def __init__(self, proc, port, db, log, workdir):
        super().__init__(proc, port, log)
        self.base = f"http://127.0.0.1:{port}"
        self.url = self.base + "/webhook"
        self.db = db
        self.workdir = workdir


def start_receiver(workdir, secrets=(b"It's a Secret to Everybody",), env=None, port=None,
                   wait=True, db=None):
    """Starts hookq-receiver on a free loopback port with its database in
    workdir/db (unless env or db says otherwise) and the secrets written to
    workdir/secret. Waits until /healthz answers. Extra env entries override
    the defaults; an entry set to None removes the variable."""
    os.makedirs(workdir, exist_ok=True)
    secret_file = os.path.join(workdir, "secret")
    with open(secret_file, "wb") as f:
        for s in secrets:
            f.write((s.encode() if isinstance(s, str) else s) + b"\n")
    os.chmod(secret_file, 0o600)
    db = db or os.path.join(workdir, "db")
    last_err = None
    for _attempt in range(5):
        p = port or free_port()
        e = {k: v for k, v in os.environ.items() if not k.startswith("HOOKQ_")}
        e.update({
            "HOOKQ_DB": db,
            "HOOKQ_LISTEN": f"127.0.0.1:{p}",
            "HOOKQ_WEBHOOK_SECRET_FILE": secret_file,
            "HOOKQ_MAP_SIZE": "256MiB",
        })
        for k, v in (env or {}).items():
            if v is None:
                e.pop(k, None)
            else:
                e[k] = str(v)
        log = os.path.join(workdir, f"receiver-{p}.log")
        logf = open(log, "ab")
        proc = subprocess.Popen([binary("hookq-receiver")], env=e, stdout=logf, stderr=logf)
        logf.close()
        r = Receiver(proc, p, e["HOOKQ_DB"], log, workdir)
        if not wait or r.wait_up():
            return r
        last_err = r.log_text()
        if "Address already in use" not in last_err or port:
            break
    raise RuntimeError(f"hookq-receiver did not start:\n{last_err}")


def metrics(rcv):
    """Parses the receiver's /metrics into {'name{labels}': value}."""
    return rcv.metrics()


# ------------------------------------------------------------------- queue --

class Senders:
    """n threads posting signed push deliveries to url until stop(), the
    concurrent load of the crash and power-loss tests. make(k, i) gives
    sender k's i-th (delivery, repo_id, body). acked maps every delivery
    answered 2xx to (id, repo_id); posted counts every answer. A sender ends
    quietly when the receiver goes away (the test killed it)."""

    def __init__(self, url, n, make, secret):
        import threading
        self.acked = {}
        self.posted = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(k, url, make, secret))
                         for k in range(n)]
        for t in self._threads:
            t.start()

    def _run(self, k, url, make, secret):
        i = 0
        while not self._stop.is_set():
            d, repo, body = make(k, i)
            i += 1
            try:
                st, _, js = post_delivery(url, "push", d, body, secret=secret)
            except OSError:
                return
            with self._lock:
                self.posted += 1
                if st in (200, 202) and js and "id" in js:
                    self.acked[d] = (js["id"], repo)

    def stop(self):
        """Stops and joins every sender; safe to call twice."""
        self._stop.set()
        for t in self._threads:
            t.join()


def hookqctl(*args, db=None, env=None, timeout=60):
    """Runs hookqctl [--db DB] ARGS...; returns the CompletedProcess (text)."""
    cmd = [binary("hookqctl")]
    if db is not None:
        cmd += ["--db", db]
    cmd += [str(a) for a in args]
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run(cmd, capture_output=True, text=True, env=e, timeout=timeout)


def queue_events(db):
    """Every queued event as a dict (id, repo, repo_id, delivery, hook_id,
    event, action, attempts, ...), per repository in FIFO order, from
    `hookqctl list --json`: through the queue API, so the same helper serves
    every backend. Raises when hookqctl cannot read the queue."""
    r = hookqctl("list", "--json", db=db)
    if r.returncode != 0:
        raise RuntimeError(f"hookqctl list: exit {r.returncode}: {r.stderr.strip()}")
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]


def queue_stats(db):
    """`hookqctl stats --json` as a dict. Raises when hookqctl cannot read
    the queue."""
    r = hookqctl("stats", "--json", db=db)
    if r.returncode != 0:
        raise RuntimeError(f"hookqctl stats: exit {r.returncode}: {r.stderr.strip()}")
    return json.loads(r.stdout)


# ---------------------------------------------------------------- payloads --

def _sha(rng):
    return "%040x" % rng.getrandbits(160)


def _user(login, uid):
    return {
        "login": login, "id": uid, "node_id": "MDQ6VXNlcj%d" % uid,
        "avatar_url": f"https://avatars.githubusercontent.com/u/{uid}?v=4", "gravatar_id": "",
        "url": f"https://api.github.com/users/{login}",
        "html_url": f"https://github.com/{login}",
        "followers_url": f"https://api.github.com/users/{login}/followers",
        "following_url": f"https://api.github.com/users/{login}/following{{/other_user}}",
        "gists_url": f"https://api.github.com/users/{login}/gists{{/gist_id}}",
        "starred_url": f"https://api.github.com/users/{login}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"https://api.github.com/users/{login}/subscriptions",
        "organizations_url": f"https://api.github.com/users/{login}/orgs",
        "repos_url": f"https://api.github.com/users/{login}/repos",
        "events_url": f"https://api.github.com/users/{login}/events{{/privacy}}",
        "received_events_url": f"https://api.github.com/users/{login}/received_events",
        "type": "User", "site_admin": False,
    }


def _repo(repo_id, full_name):
    owner, _, name = full_name.partition("/")
    api = f"https://api.github.com/repos/{full_name}"
    r = {
        "id": repo_id, "node_id": "R_kgDO%08d" % (repo_id % 10 ** 8), "name": name,
        "full_name": full_name, "private": False, "owner": _user(owner, 1000 + repo_id % 9973),
        "html_url": f"https://github.com/{full_name}",
        "description": "A repository used by the hookq tests.", "fork": False, "url": api,
        "created_at": "2024-01-02T03:04:05Z", "updated_at": "2026-11-01T10:00:00Z",
        "pushed_at": "2026-11-21T09:30:00Z", "git_url": f"git://github.com/{full_name}.git",
        "ssh_url": f"git@github.com:{full_name}.git",
        "clone_url": f"https://github.com/{full_name}.git", "homepage": None, "size": 1234,
        "stargazers_count": 42, "watchers_count": 42, "language": "C", "has_issues": True,
        "has_projects": True, "has_downloads": True, "has_wiki": False, "has_pages": False,
        "forks_count": 3, "archived": False, "disabled": False, "open_issues_count": 5,
        "license": {"key": "mit", "name": "MIT License", "spdx_id": "MIT"},
        "topics": ["webhooks", "queue"], "visibility": "public", "forks": 3,
        "open_issues": 5, "watchers": 42, "default_branch": "main",
    }
    for k in ("forks", "keys", "collaborators", "teams", "hooks", "issue_events", "events",
              "assignees", "branches", "tags", "blobs", "git_tags", "git_refs", "trees",
              "statuses", "languages", "stargazers", "contributors", "subscribers",
              "subscription", "commits", "git_commits", "comments", "issue_comment", "contents",
              "compare", "merges", "archive", "downloads", "issues", "pulls", "milestones",
              "notifications", "labels", "releases", "deployments"):
        r[k + "_url"] = f"{api}/{k}"
    return r


def make_payload(event, repo_id, repo_name, action=None, size_kb=None, installation_id=None,
                 sha=None):
    """A GitHub-shaped payload as compact JSON bytes. push and pull_request
    look like the real thing (repository, sender, commits or pull_request
    with head/base); other events get the common envelope. size_kb pads the
    payload to about that size (commits for push, the PR body otherwise);
    None gives the realistic default: ~8 KB push, ~24 KB pull_request."""
    rng = random.Random(zlib.crc32(repr((event, repo_id, repo_name, action, sha)).encode()))
    sha = sha or _sha(rng)
    repo = _repo(repo_id, repo_name)
    sender = _user("octocat", 583231)
    p = {}
    if action is not None:
        p["action"] = action
    if event == "push":
        before = _sha(rng)
        p.update({
            "ref": "refs/heads/main", "before": before, "after": sha, "created": False,
            "deleted": False, "forced": False, "base_ref": None,
            "compare": f"https://github.com/{repo_name}/compare/{before[:12]}...{sha[:12]}",
            "commits": [], "head_commit": None, "repository": repo,
            "pusher": {"name": "octocat", "email": "octocat@github.com"}, "sender": sender,
        })
        target = (size_kb if size_kb is not None else 8) * 1024
        i = 0
        while True:
            cid = sha if i == 0 else _sha(rng)
            c = {
                "id": cid, "tree_id": _sha(rng), "distinct": True,
                "message": f"Change {i}: tighten the retry policy\n\nDetails of change {i}.",
                "timestamp": "2026-11-21T09:30:00Z",
                "url": f"https://github.com/{repo_name}/commit/{cid}",
                "author": {"name": "Mona Lisa", "email": "mona@github.com", "username": "mona"},
                "committer": {"name": "GitHub", "email": "noreply@github.com",
                              "username": "web-flow"},
                "added": [f"src/new_{i}.c"], "removed": [], "modified": ["src/queue.c",
                                                                          "README.md"],
            }
            p["commits"].append(c)
            p["head_commit"] = p["commits"][0]
            if len(json.dumps(p, separators=(",", ":"))) >= target or i > 100000:
                break
            i += 1
    elif event == "pull_request":
        number = rng.randint(1, 5000)
        pr_api = f"https://api.github.com/repos/{repo_name}/pulls/{number}"
        p.setdefault("action", "opened")
        pr = {
            "url": pr_api, "id": rng.randint(10 ** 8, 10 ** 9), "node_id": "PR_kwDOAAAB",
            "html_url": f"https://github.com/{repo_name}/pull/{number}", "number": number,
            "state": "open", "locked": False, "title": "Make the receiver durable",
            "user": _user("mona", 9919), "body": "", "created_at": "2026-11-21T09:30:00Z",
            "updated_at": "2026-11-21T09:30:00Z", "closed_at": None, "merged_at": None,
            "merge_commit_sha": None, "assignee": None, "assignees": [],
            "requested_reviewers": [_user("hubot", 480938)], "labels": [], "milestone": None,
            "draft": False,
            "head": {"label": "mona:feature", "ref": "feature", "sha": sha,
                     "user": _user("mona", 9919), "repo": _repo(repo_id, repo_name)},
            "base": {"label": "octo:main", "ref": "main", "sha": _sha(rng),
                     "user": repo["owner"], "repo": _repo(repo_id, repo_name)},
            "author_association": "CONTRIBUTOR", "merged": False, "mergeable": None,
            "comments": 0, "review_comments": 0, "commits": 3, "additions": 120,
            "deletions": 14, "changed_files": 5,
        }
        for k in ("commits", "review_comments", "comments", "statuses"):
            pr[k + "_url"] = f"{pr_api}/{k}"
        p.update({"number": number, "pull_request": pr, "repository": repo, "sender": sender})
        target = (size_kb if size_kb is not None else 24) * 1024
        cur = len(json.dumps(p, separators=(",", ":")))
        if cur < target:
            words = ("queue durable commit webhook receiver lease repository ordering retry "
                     "signature batch sync").split()
            pr["body"] = " ".join(rng.choice(words) for _ in range((target - cur) // 7 + 1))
    else:
        p.update({"repository": repo, "sender": sender})
        if size_kb:
            p["padding"] = "x" * (size_kb * 1024)
    if installation_id is not None:
        p["installation"] = {"id": installation_id, "node_id": "MDIzOkludGVncmF0aW9u"}
    return json.dumps(p, separators=(",", ":")).encode()


# ------------------------------------------------------------ test runner --

class TestFailure(AssertionError):
    pass


def _sanitizer_reports(tmp):
    """Log files under tmp holding an ASan/UBSan/LSan report."""
    found = []
    for root, _dirs, files in os.walk(tmp):
        for f in files:
            if not f.endswith(".log"):
                continue
            path = os.path.join(root, f)
            with open(path, "r", errors="replace") as fh:
                text = fh.read()
            if "Sanitizer" in text or "runtime error:" in text:
                found.append(path)
    return found


def check(cond, msg="check failed"):
    if not cond:
        raise TestFailure(msg)


# ------------------------------------------------------------- postgresql --

def _psql():
    import glob
    import shutil
    found = shutil.which("psql")
    if found:
        return found
    cands = sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"))
    if not cands:
        skip("no psql on this machine")
    return cands[-1]


def pg_sql(uri, sql):
    """Runs sql on the database at uri with psql; returns its stdout (one
    value per line, unaligned). Raises on an error."""
    r = subprocess.run([_psql(), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", uri,
                        "-c", sql], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"psql: {r.stderr.strip()}")
    return r.stdout


_pg_serial = [0]


def pg_database():
    """The URI of a new, empty database in the tests' PostgreSQL cluster
    (tests/tools/pg_cluster.sh, found through HOOKQ_TEST_PG_DIR), as its
    superuser; skips the test when there is no cluster."""
    d = os.environ.get("HOOKQ_TEST_PG_DIR")
    if not d:
        skip("HOOKQ_TEST_PG_DIR is not set (no PostgreSQL cluster for the tests)")
    try:
        with open(os.path.join(d, "uri")) as f:
            base = f.read().strip()
    except OSError:
        skip("the PostgreSQL cluster of HOOKQ_TEST_PG_DIR is not running")
    _pg_serial[0] += 1
    name = f"hqi_{os.getpid()}_{_pg_serial[0]}_{int(time.time() * 1000) % 1000000}"
    pg_sql(base + "/postgres", f"CREATE DATABASE {name}")
    return f"{base}/{name}"


SKIP_STATUS = 77  # ctest's SKIP_RETURN_CODE for a program whose cases all skipped


class Skip(Exception):
    """Raised by a test that cannot run here; reported as skipped, never ok."""


def skip(why):
    raise Skip(why)


def run_tests(tests, argv=None):
    """Runs (name, fn) pairs; fn gets its own temporary directory. Prints one
    line per test and exits 0 only when none failed and one passed; a test
    that calls skip(why) is reported as skipped. When every test skipped, the
    exit status is SKIP_STATUS. argv[1] picks one test."""
    import tempfile
    import traceback
    argv = argv if argv is not None else sys.argv
    only = argv[1] if len(argv) > 1 else None
    failed = passed = skipped = 0
    for name, fn in tests:
        if only and name != only:
            continue
        tmp = tempfile.mkdtemp(prefix=f"hq-{name}-")
        t0 = time.time()
        try:
            fn(tmp)
            reports = _sanitizer_reports(tmp)
            if reports:
                raise TestFailure("sanitizer reports in " + ", ".join(reports))
            passed += 1
            print(f"ok   {name} ({time.time() - t0:.1f}s)", flush=True)
            subprocess.run(["rm", "-rf", tmp])
        except Skip as e:
            skipped += 1
            print(f"skip {name}: {e}", flush=True)
            subprocess.run(["rm", "-rf", tmp])
        except Exception:
            failed += 1
            print(f"FAIL {name} ({time.time() - t0:.1f}s); files kept in {tmp}", flush=True)
            traceback.print_exc()
    print(f"{passed} passed, {failed} failed, {skipped} skipped", flush=True)
    _exit_status(passed, failed, skipped)


def _exit_status(passed, failed, skipped):
    if failed == 0 and passed == 0 and skipped > 0:
        sys.exit(SKIP_STATUS)
    sys.exit(0 if failed == 0 and passed > 0 else 1)


def unittest_main():
    """unittest.main for the tests written as TestCase classes, with the same
    exit statuses as run_tests (SKIP_STATUS when every case skipped)."""
    import unittest
    prog = unittest.main(verbosity=2, exit=False)
    r = prog.result
    skipped = len(r.skipped)
    failed = len(r.failures) + len(r.errors) + len(getattr(r, "unexpectedSuccesses", []))
    _exit_status(r.testsRun - skipped - failed, failed, skipped)
