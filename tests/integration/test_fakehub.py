"""Integration tests of fakehub, hookq's stand-in GitHub API: every endpoint,
GitHub's validation rules, the record, and the observable behaviour of each
fault flag. Each test starts its own fakehub in its own temporary directory.
"""

import calendar
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fakehublib import (fakehub_binary, make_app_key, mint_jwt,  # noqa: E402
                        start_fakehub)

APP_ID = 4242
SHA = "0123456789abcdef0123456789abcdef01234567"
RL_HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset",
              "x-ratelimit-used", "x-ratelimit-resource")


class FakehubCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.keydir = tempfile.mkdtemp(prefix="fakehub-keys-")
        cls.priv, cls.pub = make_app_key(cls.keydir)
        cls.other_priv, _ = make_app_key(cls.keydir, "other")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.keydir, ignore_errors=True)

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="fakehub-test-")
        self.hubs = []

    def tearDown(self):
        # every fakehub must stop cleanly on SIGTERM, without a sanitizer report
        problems = []
        for hub in self.hubs:
            try:
                code = hub.stop()
            except Exception as e:  # a hub that does not stop is a failure too
                hub.kill()
                code = repr(e)
            err = hub.stderr()
            if code != 0 or "Sanitizer" in err or "runtime error" in err:
                problems.append("exit %s: %s" % (code, err[-3000:]))
        shutil.rmtree(self.dir, ignore_errors=True)
        self.assertEqual(problems, [])

    def start(self, *args, app=True):
        extra = ["--app-id", APP_ID, "--app-public-key", self.pub] if app else []
        hub = start_fakehub(self.dir, *(extra + list(args)))
        self.hubs.append(hub)
        return hub

    def jwt(self, **kw):
        return mint_jwt(self.priv, APP_ID, **kw)

    def post_status(self, hub, token, body=None, repo="octo/hello", sha=SHA, scheme="token",
                    **kw):
        if body is None:
            body = {"state": "success", "description": "ok", "context": "hookq"}
        return hub.json_request("POST", "/repos/%s/statuses/%s" % (repo, sha), body=body,
                                auth="%s %s" % (scheme, token), **kw)


class TestCommandLine(FakehubCase):
    def run_fakehub(self, *args):
        return subprocess.run([fakehub_binary()] + list(args), capture_output=True, text=True,
                              timeout=10)

    def test_help_and_version_exit_0(self):
        r = self.run_fakehub("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("--revoke-older", r.stdout)
        r = self.run_fakehub("--version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^fakehub .*\d+\.\d+")

    def test_bad_values_exit_2_with_one_line(self):
        for args in (["--fail-5xx", "1.5"], ["--listen", "nope"], ["--token-length", "3"],
                     ["--bogus"], ["--status-code-for", "octo/hello=abc"],
                     ["--fail-5xx", "0.6", "--reset", "0.6"],
                     ["--app-id", "1", "--app-public-key", "/nonexistent"]):
            r = self.run_fakehub(*args)
            self.assertEqual(r.returncode, 2, args)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, (args, r.stderr))
            self.assertTrue(r.stderr.startswith("fakehub:"), r.stderr)

    def test_port_file_and_sigterm_exit_0(self):
        port_file = os.path.join(self.dir, "port")
        hub = self.start("--port-file", port_file)
        with open(port_file) as f:
            self.assertEqual(int(f.read()), hub.port)
        status, _, _ = hub.request("GET", "/rate_limit")
        self.assertEqual(status, 200)
        self.assertEqual(hub.stop(), 0)
        self.assertEqual(len(hub.records()), 1)


class TestAppAuth(FakehubCase):
    def test_valid_jwt_gets_token(self):
        hub = self.start()
        before = time.time()
        status, headers, doc = hub.json_request("POST", "/app/installations/77/access_tokens",
                                                auth="Bearer " + self.jwt())
        self.assertEqual(status, 201, doc)
        self.assertRegex(doc["token"], r"^ghs_[A-Za-z0-9]{36}$")
        expires = calendar.timegm(time.strptime(doc["expires_at"], "%Y-%m-%dT%H:%M:%SZ"))
        self.assertAlmostEqual(expires - before, 3600, delta=3)
        self.assertIsInstance(doc["permissions"], dict)
        self.assertEqual(headers["content-type"], "application/json; charset=utf-8")
        rec = hub.records()[-1]
        self.assertEqual((rec["route"], rec["cred"], rec["installation"], rec["status"]),
                         ("access_tokens", "jwt", 77, 201))

    def test_bad_jwts_are_401(self):
        hub = self.start()
        cases = {
            "bad signature": mint_jwt(self.other_priv, APP_ID),
            "expired": self.jwt(iat_offset=-700, ttl=540),
            "wrong iss": mint_jwt(self.priv, APP_ID + 1),
            "window over 10 min": self.jwt(iat_offset=-10, ttl=660),
            "iat in the future": self.jwt(iat_offset=300, ttl=300),
            "no exp": self.jwt(claims={"exp": None}),
            "alg HS256": self.jwt(header={"alg": "HS256"}),
            "not a jwt": "abc.def",
        }
        for name, jwt in cases.items():
            status, _, doc = hub.json_request("POST", "/app/installations/1/access_tokens",
                                              auth="Bearer " + jwt)
            self.assertEqual(status, 401, name)
            self.assertIn("message", doc, name)
            self.assertIn("documentation_url", doc, name)
        # iss as a string naming the app is fine
        status, _, _ = hub.json_request("POST", "/app/installations/1/access_tokens",
                                        auth="Bearer " + self.jwt(claims={"iss": str(APP_ID)}))
        self.assertEqual(status, 201)
        status, _, _ = hub.json_request("POST", "/app/installations/1/access_tokens")
        self.assertEqual(status, 401)
        creds = [r["cred"] for r in hub.records()]
        self.assertEqual(creds, ["invalid"] * len(cases) + ["jwt", "none"])

    def test_installation_lookup(self):
        hub = self.start("--installation", "octo/hello=31", "--installation", "octo/x=2")
        status, _, doc = hub.json_request("GET", "/repos/octo/hello/installation",
                                          auth="Bearer " + self.jwt())
        self.assertEqual((status, doc["id"]), (200, 31))
        status, _, _ = hub.json_request("GET", "/repos/octo/other/installation",
                                        auth="Bearer " + self.jwt())
        self.assertEqual(status, 404)
        status, _, _ = hub.json_request("GET", "/repos/octo/hello/installation")
        self.assertEqual(status, 401)
        rec = hub.records()[0]
        self.assertEqual((rec["route"], rec["installation"]), ("installation", 31))

    def test_installation_wildcard(self):
        hub = self.start("--installation", "*=9")
        status, _, doc = hub.json_request("GET", "/repos/any/repo/installation",
                                          auth="Bearer " + self.jwt())
        self.assertEqual((status, doc["id"]), (200, 9))


class TestStatuses(FakehubCase):
    def test_status_with_token_is_201_and_recorded(self):
        hub = self.start()
        token = hub.token(5, self.jwt())
        body = {"state": "pending", "description": "running", "context": "hookq",
                "target_url": "https://ci.example/1"}
        status, headers, doc = self.post_status(hub, token, body)
        self.assertEqual(status, 201, doc)
        for k in ("id", "state", "description", "context", "target_url", "created_at"):
            self.assertIn(k, doc)
        self.assertEqual((doc["state"], doc["context"]), ("pending", "hookq"))
        for h in RL_HEADERS:
            self.assertIn(h, headers)
        [rec] = hub.statuses()
        self.assertEqual(rec["body"], body)
        self.assertEqual((rec["repo"], rec["sha"], rec["cred"], rec["installation"]),
                         ("octo/hello", SHA, "installation", 5))
        self.assertGreaterEqual(rec["token_age_ms"], 0)
        self.assertEqual(rec["accept"], "application/vnd.github+json")
        self.assertEqual(rec["user_agent"], "hookq-tests/fakehublib")
        self.assertEqual(rec["api_version"], "2022-11-28")
        self.assertAlmostEqual(rec["t"], time.time(), delta=5)

    def test_pat_and_bearer_scheme(self):
        pat_file = os.path.join(self.dir, "pats")
        with open(pat_file, "w") as f:
            f.write("# tokens\nghp_first\n\nghp_second\n")
        hub = self.start("--pat-file", pat_file)
        self.assertEqual(self.post_status(hub, "ghp_second")[0], 201)
        self.assertEqual(self.post_status(hub, "ghp_first", scheme="Bearer")[0], 201)
        self.assertEqual(self.post_status(hub, "ghp_third")[0], 401)
        self.assertEqual([r["cred"] for r in hub.records()], ["pat", "pat", "invalid"])

    def test_missing_or_unknown_token_is_401(self):
        hub = self.start()
        status, _, _ = hub.json_request("POST", "/repos/octo/hello/statuses/" + SHA,
                                        body={"state": "success"})
        self.assertEqual(status, 401)
        self.assertEqual(self.post_status(hub, "ghs_unknown")[0], 401)
        # a JWT is not an installation token
        self.assertEqual(self.post_status(hub, self.jwt(), scheme="Bearer")[0], 401)

    def test_description_length_in_characters(self):
        hub = self.start()
        token = hub.token(5, self.jwt())
        status, _, doc = self.post_status(hub, token, {"state": "success",
                                                       "description": "x" * 141})
        self.assertEqual(status, 422)
        self.assertEqual(doc["message"], "Validation Failed")
        self.assertEqual(doc["errors"][0]["field"], "description")
        self.assertEqual(self.post_status(hub, token, {"state": "success",
                                                       "description": "x" * 140})[0], 201)
        self.assertEqual(self.post_status(hub, token, {"state": "success",
                                                       "description": "é日" * 70})[0], 201)
        self.assertEqual(self.post_status(hub, token, {"state": "success",
                                                       "description": "é日" * 70 + "x"})[0],
                         422)
        self.assertEqual(len(hub.statuses()), 2)

    def test_validation(self):
        hub = self.start()
        token = hub.token(5, self.jwt())
        status, _, doc = self.post_status(hub, token, {"state": "done"})
        self.assertEqual(status, 422)
        self.assertEqual(doc["errors"][0]["field"], "state")
        self.assertEqual(self.post_status(hub, token, {"description": "no state"})[0], 422)
        self.assertEqual(self.post_status(hub, token, {"state": "success", "context": 5})[0],
                         422)
        self.assertEqual(self.post_status(hub, token, sha="abc123")[0], 422)
        self.assertEqual(self.post_status(hub, token, sha="g" * 40)[0], 422)
        self.assertEqual(self.post_status(hub, token, "{not json")[0], 400)
        status, _, doc = self.post_status(hub, token, {"state": "error"})
        self.assertEqual((status, doc["context"], doc["description"]), (201, "default", None))
        recs = hub.records()
        self.assertEqual(recs[-2]["body"], "{not json")  # raw text when it does not parse

    def test_missing_user_agent_is_403(self):
        hub = self.start()
        status, headers, doc = hub.json_request("GET", "/rate_limit", user_agent=None)
        self.assertEqual(status, 403)
        self.assertIn("User-Agent", doc["message"])
        self.assertEqual(hub.records()[0]["user_agent"], None)

    def test_unknown_path_and_wrong_method_are_404(self):
        hub = self.start()
        for method, path in (("GET", "/nope"), ("GET", "/repos/octo/hello/statuses/" + SHA),
                             ("DELETE", "/rate_limit"),
                             ("POST", "/app/installations/x/access_tokens")):
            status, headers, doc = hub.json_request(method, path)
            self.assertEqual(status, 404, (method, path))
            self.assertEqual(doc["message"], "Not Found")
            self.assertEqual(headers["content-type"], "application/json; charset=utf-8")
            for h in RL_HEADERS:
                self.assertIn(h, headers)
        self.assertEqual({r["route"] for r in hub.records()}, {"unknown"})

    def test_body_over_1mib_is_413(self):
        hub = self.start()
        token = hub.token(5, self.jwt())
        big = {"state": "success", "description": "x" * (1024 * 1024)}
        self.assertEqual(self.post_status(hub, token, big)[0], 413)
        self.assertIsNone(hub.records()[-1]["body"])

    def test_rate_limit_endpoint(self):
        hub = self.start()
        status, headers, doc = hub.json_request("GET", "/rate_limit")
        self.assertEqual(status, 200)
        self.assertEqual(doc["resources"]["core"]["limit"], int(headers["x-ratelimit-limit"]))
        self.assertEqual(headers["x-ratelimit-resource"], "core")

    def test_status_code_for(self):
        hub = self.start("--status-code-for", "octo/bad=422", "--status-code-for",
                         "octo/gone=404")
        token = hub.token(5, self.jwt())
        status, _, doc = self.post_status(hub, token, repo="octo/bad")
        self.assertEqual((status, doc["message"]), (422, "Validation Failed"))
        self.assertEqual(self.post_status(hub, token, repo="octo/gone")[0], 404)
        self.assertEqual(self.post_status(hub, token, repo="octo/good")[0], 201)
        self.assertEqual([r["status"] for r in hub.records()[1:]], [422, 404, 201])


class TestTokens(FakehubCase):
    def test_long_tokens(self):
        hub = self.start("--token-length", "700")
        token = hub.token(5, self.jwt())
        self.assertEqual(len(token), 700)
        self.assertTrue(token.startswith("ghs_"))
        self.assertEqual(self.post_status(hub, token)[0], 201)

    def test_revoke_older(self):
        hub = self.start("--revoke-older")
        first = hub.token(5, self.jwt())
        other = hub.token(6, self.jwt())
        second = hub.token(5, self.jwt())
        self.assertEqual(self.post_status(hub, first)[0], 401)
        self.assertEqual(self.post_status(hub, second)[0], 201)
        self.assertEqual(self.post_status(hub, other)[0], 201)
        rec = hub.records()[3]
        self.assertEqual((rec["cred"], rec["installation"], rec["status"]),
                         ("invalid", 5, 401))

    def test_without_revoke_older_both_tokens_work(self):
        hub = self.start()
        first = hub.token(5, self.jwt())
        second = hub.token(5, self.jwt())
        self.assertEqual(self.post_status(hub, first)[0], 201)
        self.assertEqual(self.post_status(hub, second)[0], 201)

    def test_young_token_401_then_success(self):
        hub = self.start("--young-token-ms", "1500")
        token = hub.token(5, self.jwt())
        status, _, doc = self.post_status(hub, token)
        self.assertEqual((status, doc["message"]), (401, "Bad credentials"))
        time.sleep(1.6)
        self.assertEqual(self.post_status(hub, token)[0], 201)
        young, old = hub.records()[1:]
        self.assertLess(young["token_age_ms"], 1500)
        self.assertGreaterEqual(old["token_age_ms"], 1500)

    def test_token_expires(self):
        hub = self.start("--token-ttl", "2")
        status, _, doc = hub.json_request("POST", "/app/installations/5/access_tokens",
                                          auth="Bearer " + self.jwt())
        expires = calendar.timegm(time.strptime(doc["expires_at"], "%Y-%m-%dT%H:%M:%SZ"))
        if expires - time.time() > 0.3:
            self.assertEqual(self.post_status(hub, doc["token"])[0], 201)
        time.sleep(max(0.0, expires - time.time()) + 0.2)
        self.assertEqual(self.post_status(hub, doc["token"])[0], 401)

    def test_budget_counts_down_and_resets(self):
        hub = self.start("--budget", "3", "--budget-window", "2")
        token = hub.token(5, self.jwt())
        remaining = []
        for _ in range(3):
            status, headers, _ = self.post_status(hub, token)
            self.assertEqual(status, 201)
            self.assertEqual(headers["x-ratelimit-limit"], "3")
            remaining.append(int(headers["x-ratelimit-remaining"]))
        self.assertEqual(remaining, [2, 1, 0])
        status, headers, doc = self.post_status(hub, token)
        self.assertEqual(status, 403)
        self.assertEqual(headers["x-ratelimit-remaining"], "0")
        reset = int(headers["x-ratelimit-reset"])
        self.assertGreater(reset, time.time() - 1)
        self.assertLessEqual(reset, time.time() + 3)
        time.sleep(max(0.0, reset - time.time()) + 0.2)
        status, headers, _ = self.post_status(hub, token)
        self.assertEqual((status, headers["x-ratelimit-remaining"]), (201, "2"))
        # another installation has its own budget
        other = hub.token(6, self.jwt())
        self.assertEqual(self.post_status(hub, other)[1]["x-ratelimit-remaining"], "2")


class TestFaults(FakehubCase):
    def fault_hub(self, *args):
        pat_file = os.path.join(self.dir, "pats")
        with open(pat_file, "w") as f:
            f.write("ghp_test\n")
        return self.start("--pat-file", pat_file, *args)

    def test_5xx_fraction_is_seeded(self):
        runs = []
        for _ in range(2):
            hub = self.fault_hub("--fail-5xx", "0.3", "--seed", "11")
            runs.append([self.post_status(hub, "ghp_test")[0] for _ in range(200)])
            hub.stop()
        self.assertEqual(runs[0], runs[1])
        failed = [s for s in runs[0] if s != 201]
        self.assertTrue(35 <= len(failed) <= 85, len(failed))
        self.assertEqual(set(failed), {500, 502, 503})
        faults = {r["fault"] for r in self.hubs[0].records()}
        self.assertEqual(faults, {"none", "5xx"})

    def test_429_with_retry_after(self):
        hub = self.fault_hub("--rate-429", "1", "--retry-after", "3")
        status, headers, _ = self.post_status(hub, "ghp_test")
        self.assertEqual((status, headers["retry-after"]), (429, "3"))
        self.assertEqual(hub.records()[0]["fault"], "429")

    def test_primary_403(self):
        hub = self.fault_hub("--primary-403", "1", "--reset-in", "5")
        status, headers, doc = self.post_status(hub, "ghp_test")
        self.assertEqual(status, 403)
        self.assertEqual(headers["x-ratelimit-remaining"], "0")
        self.assertAlmostEqual(int(headers["x-ratelimit-reset"]), time.time() + 5, delta=2)
        self.assertIn("rate limit", doc["message"])

    def test_secondary_403_with_and_without_retry_after(self):
        hub = self.fault_hub("--secondary-403", "1", "--secondary-retry-after", "7")
        status, headers, doc = self.post_status(hub, "ghp_test")
        self.assertEqual((status, headers["retry-after"]), (403, "7"))
        self.assertIn("secondary rate limit", doc["message"])
        hub.stop()
        hub = self.fault_hub("--secondary-403", "1")
        status, headers, doc = self.post_status(hub, "ghp_test")
        self.assertEqual(status, 403)
        self.assertIn("secondary rate limit", doc["message"])
        self.assertNotIn("retry-after", headers)
        self.assertNotEqual(headers["x-ratelimit-remaining"], "0")

    def test_reset_closes_without_answer(self):
        hub = self.fault_hub("--reset", "1")
        with self.assertRaises((ConnectionError, http.client.HTTPException)):
            self.post_status(hub, "ghp_test")
        rec = hub.records()[0]
        self.assertEqual((rec["fault"], rec["status"]), ("reset", 0))

    def test_hang_holds_the_answer(self):
        hub = self.fault_hub("--hang", "1", "--hang-ms", "1500")
        with self.assertRaises(socket.timeout):
            self.post_status(hub, "ghp_test", timeout=0.5)
        start = time.monotonic()
        status, _, _ = self.post_status(hub, "ghp_test", timeout=10)
        self.assertGreaterEqual(time.monotonic() - start, 1.4)
        self.assertEqual(status, 201)
        self.assertEqual({r["fault"] for r in hub.records()}, {"hang"})
        self.assertEqual(hub.statuses(), [])  # GitHub did it, the client never knew

    def test_hang_ends_at_shutdown(self):
        hub = self.fault_hub("--hang", "1", "--hang-ms", "60000")
        with self.assertRaises(socket.timeout):
            self.post_status(hub, "ghp_test", timeout=0.3)
        start = time.monotonic()
        self.assertEqual(hub.stop(), 0)
        self.assertLess(time.monotonic() - start, 5)

    def test_malformed_json(self):
        hub = self.fault_hub("--malformed", "1")
        status, headers, data = hub.request("POST", "/repos/octo/hello/statuses/" + SHA,
                                            body={"state": "success"}, auth="token ghp_test")
        self.assertEqual(status, 201)
        with self.assertRaises(ValueError):
            json.loads(data)
        self.assertEqual(hub.records()[0]["fault"], "malformed")

    def test_fault_routes_tokens(self):
        hub = self.fault_hub("--fault-routes", "tokens", "--fail-5xx", "1")
        status, _, _ = hub.json_request("POST", "/app/installations/5/access_tokens",
                                        auth="Bearer " + self.jwt())
        self.assertIn(status, (500, 502, 503))
        self.assertEqual(self.post_status(hub, "ghp_test")[0], 201)

    def test_latency_does_not_serialize(self):
        hub = self.fault_hub("--latency-ms", "50")
        n = 64
        barrier = threading.Barrier(n)
        results = [None] * n

        def worker(i):
            conn = http.client.HTTPConnection("127.0.0.1", hub.port, timeout=20)
            conn.connect()
            barrier.wait()
            t0 = time.monotonic()
            conn.request("POST", "/repos/octo/hello/statuses/" + SHA,
                         body=json.dumps({"state": "success"}),
                         headers={"Authorization": "token ghp_test", "User-Agent": "t"})
            resp = conn.getresponse()
            resp.read()
            results[i] = (resp.status, time.monotonic() - t0, t0)
            conn.close()

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual({r[0] for r in results}, {201})
        self.assertGreaterEqual(min(r[1] for r in results), 0.045)
        wall = max(r[2] + r[1] for r in results) - min(r[2] for r in results)
        self.assertLess(wall, 64 * 0.050 / 4, "64 answers of 50 ms took %.3fs" % wall)
        self.assertEqual(len(hub.statuses()), n)


if __name__ == "__main__":
    unittest.main(verbosity=2)
