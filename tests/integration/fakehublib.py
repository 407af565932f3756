"""fakehublib: start and drive fakehub (tests/fakehub), hookq's stand-in GitHub API.

Python 3 standard library only. Used by the integration tests, the benchmarks
and the demo:

    hub = start_fakehub(workdir, "--app-id", "42", "--app-public-key", pub)
    jwt = mint_jwt(priv, 42)
    status, headers, body = hub.request("POST", "/app/installations/7/access_tokens",
                                        auth="Bearer " + jwt)
    ...
    hub.stop()
    assert hub.statuses()[0]["body"]["state"] == "success"

The binary is $HOOKQ_BUILD_DIR/tests/fakehub/fakehub (default build dir
/work/main/build). Every request fakehub answers is a JSON line in
workdir/fakehub.jsonl; records() parses them.
"""

import base64
import http.client
import json
import os
import select
import signal
import subprocess
import time

DEFAULT_BUILD_DIR = "/work/main/build"
USER_AGENT = "hookq-tests/fakehublib"
ACCEPT = "application/vnd.github+json"


def fakehub_binary():
    build = os.environ.get("HOOKQ_BUILD_DIR", DEFAULT_BUILD_DIR)
    return os.path.join(build, "tests", "fakehub", "fakehub")


class FakeHub:
    """A running fakehub process. Use start_fakehub() to make one."""

    def __init__(self, proc, port, workdir, record_path, stderr_path):
        self.proc = proc
        self.port = port
        self.host = "127.0.0.1"
        self.url = "http://127.0.0.1:%d" % port
        self.workdir = workdir
        self.record_path = record_path
        self.stderr_path = stderr_path

    def records(self):
        """Every recorded request so far, oldest first, as dicts."""
        out = []
        try:
            with open(self.record_path, encoding="utf-8") as f:
                for line in f:
                    if line.endswith("\n"):  # a line being written is not whole yet
                        out.append(json.loads(line))
        except FileNotFoundError:
            pass
        return out

    def statuses(self):
        """The status POSTs GitHub would show: answered 201 without a fault."""
        return [r for r in self.records()
                if r["route"] == "statuses" and r["status"] == 201 and r["fault"] == "none"]

    def check_runs(self):
        """Every check run fakehub stores (GET /_fakehub/check-runs), oldest
        first: the check run object with "repository", every "annotations"
        given, and "history": one {"op": "create"|"update", "t", "body",
        "answer_lost"} per stored create or update, including those whose
        answer a lost-answer fault dropped."""
        status, _, doc = self.json_request("GET", "/_fakehub/check-runs")
        if status != 200:
            raise AssertionError("/_fakehub/check-runs answered %d: %r" % (status, doc))
        return doc["check_runs"]

    def stderr(self):
        try:
            with open(self.stderr_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def request(self, method, path, body=None, auth=None, headers=None, timeout=10.0,
                user_agent=USER_AGENT, accept=ACCEPT):
        """One request on a new connection. body: dict/list (sent as JSON), str
        or bytes. Returns (status, headers with lower-case names, body bytes);
        connection errors and timeouts raise as http.client/socket do."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            hdrs = {}
            if user_agent is not None:
                hdrs["User-Agent"] = user_agent
            if accept is not None:
                hdrs["Accept"] = accept
            hdrs["X-GitHub-Api-Version"] = "2022-11-28"
            if auth is not None:
                hdrs["Authorization"] = auth
            if isinstance(body, (dict, list)):
                body = json.dumps(body).encode()
                hdrs["Content-Type"] = "application/json"
            elif isinstance(body, str):
                body = body.encode()
            hdrs.update(headers or {})
            if user_agent is None:
                # http.client adds none by itself, but be explicit
                hdrs.pop("User-Agent", None)
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            conn.close()

    def json_request(self, method, path, body=None, auth=None, **kw):
        """request() with the answer body parsed as JSON (None if it is not)."""
        status, headers, data = self.request(method, path, body=body, auth=auth, **kw)
        try:
            doc = json.loads(data) if data else None
        except ValueError:
            doc = None
        return status, headers, doc

    def token(self, installation, jwt):
        """Asks for an installation token; returns it (asserts a 201)."""
        status, _, doc = self.json_request(
            "POST", "/app/installations/%d/access_tokens" % installation, auth="Bearer " + jwt)
        if status != 201:
            raise AssertionError("token request answered %d: %r" % (status, doc))
        return doc["token"]

    def stop(self, timeout=10.0):
        """SIGTERM and wait; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        finally:
            self._close()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._close()

    def _close(self):
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.kill()


def start_fakehub(workdir, *extra_args, timeout=10.0):
    """Starts fakehub on an ephemeral loopback port, recording into
    workdir/fakehub.jsonl, and waits for its 'listening' line."""
    record = os.path.join(workdir, "fakehub.jsonl")
    stderr_path = os.path.join(workdir, "fakehub.stderr")
    args = [fakehub_binary(), "--listen", "127.0.0.1:0", "--record", record]
    args += [str(a) for a in extra_args]
    with open(stderr_path, "ab") as err:
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    line = b""
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        ready, _, _ = select.select([proc.stdout], [], [], max(left, 0))
        if not ready:
            proc.kill()
            proc.wait()
            raise RuntimeError("fakehub did not start within %.0fs" % timeout)
        chunk = os.read(proc.stdout.fileno(), 1)
        if not chunk:
            proc.wait()
            with open(stderr_path, encoding="utf-8", errors="replace") as f:
                raise RuntimeError("fakehub exited with %d: %s" % (proc.returncode, f.read()))
        line += chunk
    text = line.decode().strip()
    prefix = "fakehub listening on "
    if not text.startswith(prefix):
        proc.kill()
        proc.wait()
        raise RuntimeError("unexpected first line from fakehub: %r" % text)
    port = int(text.rsplit(":", 1)[1])
    return FakeHub(proc, port, workdir, record, stderr_path)


def make_app_key(workdir, name="app"):
    """Generates an RSA 2048 key pair with the openssl CLI; returns
    (private_pem_path, public_pem_path)."""
    priv = os.path.join(workdir, name + ".key.pem")
    pub = os.path.join(workdir, name + ".pub.pem")
    subprocess.run(["openssl", "genrsa", "-out", priv, "2048"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run(["openssl", "rsa", "-in", priv, "-pubout", "-out", pub], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return priv, pub


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint_jwt(private_pem_path, app_id, iat_offset=-60, ttl=540, header=None, claims=None,
             now=None):
    """A GitHub App JWT signed RS256 with the openssl CLI: iat = now +
    iat_offset, exp = iat + ttl, iss = app_id. header and claims override or
    add members (a claim set to None is removed)."""
    now = int(time.time()) if now is None else int(now)
    hdr = {"alg": "RS256", "typ": "JWT"}
    hdr.update(header or {})
    payload = {"iat": now + iat_offset, "exp": now + iat_offset + ttl, "iss": app_id}
    for k, v in (claims or {}).items():
        if v is None:
            payload.pop(k, None)
        else:
            payload[k] = v
    signing_input = (b64url(json.dumps(hdr, separators=(",", ":")).encode()) + "." +
                     b64url(json.dumps(payload, separators=(",", ":")).encode()))
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", private_pem_path],
                         input=signing_input.encode(), check=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE).stdout
    return signing_input + "." + b64url(sig)
