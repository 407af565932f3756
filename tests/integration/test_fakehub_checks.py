"""Integration tests of fakehub's Checks API (issue 10): check run create,
update, get and list with GitHub's validation, the lost-answer fault (the run
is stored, the client never hears), the fault routes, the inspection route,
and a check_run webhook sent through /_fakehub/send with any App id.
"""

import http.client
import http.server
import json
import os
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fakehublib import fakehub_binary  # noqa: E402
from test_fakehub import APP_ID, RL_HEADERS, SHA, FakehubCase  # noqa: E402

REPO = "octo/hello"
SHA2 = "fedcba9876543210fedcba9876543210fedcba98"
FIRST_ID = 7000000001
ANNOTATION = {"path": "src/a.c", "start_line": 3, "end_line": 4, "annotation_level": "warning",
              "message": "unused variable"}


class ChecksCase(FakehubCase):
    def hub_and_token(self, *args, installation=5):
        hub = self.start(*args)
        return hub, hub.token(installation, self.jwt())

    def create(self, hub, token, body=None, repo=REPO, scheme="token", **kw):
        if body is None:
            body = {"name": "hookq", "head_sha": SHA}
        return hub.json_request("POST", "/repos/%s/check-runs" % repo, body=body,
                                auth="%s %s" % (scheme, token), **kw)

    def update(self, hub, token, run_id, body, repo=REPO, **kw):
        return hub.json_request("PATCH", "/repos/%s/check-runs/%d" % (repo, run_id), body=body,
                                auth="token " + token, **kw)

    def list(self, hub, token, sha=SHA, query="", repo=REPO):
        path = "/repos/%s/commits/%s/check-runs%s" % (repo, sha, query)
        return hub.json_request("GET", path, auth="token " + token)

    def assert_invalid(self, answer, field):
        status, _, doc = answer
        self.assertEqual(status, 422, doc)
        self.assertEqual(doc["message"], "Validation Failed", doc)
        self.assertIn(field, [e["field"] for e in doc["errors"]], doc)
        for e in doc["errors"]:
            self.assertEqual(e["resource"], "CheckRun")


class TestCreate(ChecksCase):
    def test_create_answers_201_with_the_check_run_object(self):
        hub, token = self.hub_and_token()
        body = {"name": "hookq", "head_sha": SHA.upper(), "status": "in_progress",
                "external_id": "delivery-1", "details_url": "https://ci.example/1",
                "started_at": "2026-12-01T10:00:00+01:00"}
        status, headers, doc = self.create(hub, token, body)
        self.assertEqual(status, 201, doc)
        self.assertGreaterEqual(doc["id"], FIRST_ID)
        self.assertGreater(doc["id"], 2 ** 32)
        self.assertEqual((doc["name"], doc["head_sha"], doc["status"], doc["conclusion"]),
                         ("hookq", SHA, "in_progress", None))
        self.assertEqual((doc["external_id"], doc["details_url"]),
                         ("delivery-1", "https://ci.example/1"))
        self.assertEqual(doc["started_at"], "2026-12-01T09:00:00Z")
        self.assertIsNone(doc["completed_at"])
        self.assertEqual(doc["app"]["id"], APP_ID)
        self.assertEqual(doc["html_url"], "https://github.com/%s/runs/%d" % (REPO, doc["id"]))
        self.assertEqual(doc["output"], {"title": None, "summary": None, "text": None,
                                         "annotations_count": 0,
                                         "annotations_url": doc["url"] + "/annotations"})
        for h in RL_HEADERS:
            self.assertIn(h, headers)
        [rec] = [r for r in hub.records() if r["route"] == "check_runs"]
        self.assertEqual((rec["repo"], rec["sha"], rec["check_run_id"], rec["cred"]),
                         (REPO, SHA, doc["id"], "installation"))
        self.assertEqual(rec["body"], body)

    def test_ids_increase_and_defaults(self):
        hub, token = self.hub_and_token()
        ids = [self.create(hub, token)[2]["id"] for _ in range(3)]
        self.assertEqual(ids, [ids[0], ids[0] + 1, ids[0] + 2])
        [first, _, _] = hub.check_runs()
        self.assertEqual(first["status"], "queued")
        self.assertIsNotNone(first["started_at"])
        self.assertIsNone(first["external_id"])

    def test_concurrent_creates_get_distinct_ids(self):
        hub, token = self.hub_and_token()
        ids, errors = [], []

        def worker(k):
            try:
                for i in range(10):
                    status, _, doc = self.create(hub, token, {"name": "t%d-%d" % (k, i),
                                                              "head_sha": SHA})
                    if status == 201:
                        ids.append(doc["id"])
                    else:
                        errors.append(status)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(repr(e))
        threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertEqual(sorted(ids), list(range(FIRST_ID, FIRST_ID + 80)))
        runs = hub.check_runs()
        self.assertEqual([r["id"] for r in runs], sorted(ids))
        self.assertEqual(len({r["check_suite"]["id"] for r in runs}), 1)

    def test_a_pat_is_refused_for_writes_but_may_read(self):
        pat_file = os.path.join(self.dir, "pats")
        with open(pat_file, "w") as f:
            f.write("ghp_reader\n")
        hub, token = self.hub_and_token("--pat-file", pat_file)
        status, _, doc = self.create(hub, "ghp_reader")
        self.assertEqual(status, 403)
        self.assertEqual(doc["message"], "You must authenticate via a GitHub App.")
        run_id = self.create(hub, token)[2]["id"]
        status, _, doc = self.update(hub, "ghp_reader", run_id, {"status": "in_progress"})
        self.assertEqual(status, 403)
        status, _, doc = self.list(hub, "ghp_reader")
        self.assertEqual((status, doc["total_count"]), (200, 1))
        self.assertEqual(len(hub.check_runs()), 1)

    def test_no_token_or_a_jwt_is_401(self):
        hub, _ = self.hub_and_token()
        status, _, _ = hub.json_request("POST", "/repos/%s/check-runs" % REPO,
                                        body={"name": "x", "head_sha": SHA})
        self.assertEqual(status, 401)
        self.assertEqual(self.create(hub, self.jwt(), scheme="Bearer")[0], 401)
        self.assertEqual(self.create(hub, "ghs_unknown")[0], 401)
        self.assertEqual(hub.check_runs(), [])

    def test_name_and_head_sha_are_required(self):
        hub, token = self.hub_and_token()
        for body, missing in (({"head_sha": SHA}, "name"), ({"name": "x"}, "head_sha")):
            status, _, doc = self.create(hub, token, body)
            self.assertEqual(status, 422, doc)
            self.assertEqual(doc["message"], 'Invalid request.\n\n"%s" wasn\'t supplied.' % missing)
        self.assert_invalid(self.create(hub, token, {"name": "", "head_sha": SHA}), "name")
        self.assertEqual(hub.check_runs(), [])

    def test_head_sha_must_be_40_hex(self):
        hub, token = self.hub_and_token()
        for sha in ("abc", SHA + "0", "g" * 40):
            status, _, doc = self.create(hub, token, {"name": "x", "head_sha": sha})
            self.assertEqual((status, doc["message"]), (422, "No commit found for SHA: " + sha))

    def test_body_must_be_a_json_object_with_typed_members(self):
        hub, token = self.hub_and_token()
        for body in ("not json", "[1]", "", b"{\"name\": \"\xff\"}"):
            self.assertEqual(self.create(hub, token, body)[0], 400, body)
        for body in ({"name": 5, "head_sha": SHA}, {"name": "x", "head_sha": SHA, "output": 3},
                     {"name": "x", "head_sha": SHA, "external_id": True},
                     {"name": "x", "head_sha": SHA, "output": {"title": 1, "summary": "s"}}):
            status, _, doc = self.create(hub, token, body)
            self.assertEqual(status, 422, body)
            self.assertTrue(doc["message"].startswith("Invalid request."), doc)
        self.assertEqual(hub.check_runs(), [])

    def test_status_values(self):
        hub, token = self.hub_and_token()
        for st in ("queued", "in_progress", "waiting", "requested", "pending"):
            status, _, doc = self.create(hub, token, {"name": "x", "head_sha": SHA, "status": st})
            self.assertEqual((status, doc["status"]), (201, st))
        self.assert_invalid(self.create(hub, token, {"name": "x", "head_sha": SHA,
                                                     "status": "running"}), "status")

    def test_conclusion_values_and_conclusion_implies_completed(self):
        hub, token = self.hub_and_token()
        for c in ("action_required", "cancelled", "failure", "neutral", "success", "skipped",
                  "stale", "timed_out"):
            status, _, doc = self.create(hub, token, {"name": "x", "head_sha": SHA,
                                                      "status": "in_progress", "conclusion": c})
            self.assertEqual((status, doc["status"], doc["conclusion"]), (201, "completed", c))
            self.assertIsNotNone(doc["completed_at"])
        self.assert_invalid(self.create(hub, token, {"name": "x", "head_sha": SHA,
                                                     "conclusion": "passed"}), "conclusion")

    def test_completed_requires_a_conclusion(self):
        hub, token = self.hub_and_token()
        self.assert_invalid(self.create(hub, token, {"name": "x", "head_sha": SHA,
                                                     "status": "completed"}), "conclusion")
        status, _, doc = self.create(hub, token, {
            "name": "x", "head_sha": SHA, "status": "completed", "conclusion": "success",
            "completed_at": "2026-12-01T10:00:05Z"})
        self.assertEqual((status, doc["completed_at"]), (201, "2026-12-01T10:00:05Z"))
        self.assert_invalid(self.create(hub, token, {"name": "x", "head_sha": SHA,
                                                     "started_at": "yesterday"}), "started_at")


class TestOutput(ChecksCase):
    def out(self, hub, token, output):
        return self.create(hub, token, {"name": "x", "head_sha": SHA, "output": output})

    def test_title_and_summary_are_required(self):
        hub, token = self.hub_and_token()
        self.assert_invalid(self.out(hub, token, {"summary": "s"}), "title")
        self.assert_invalid(self.out(hub, token, {"title": "t"}), "summary")
        status, _, doc = self.out(hub, token, {"title": "t", "summary": "s", "text": "x"})
        self.assertEqual(status, 201, doc)
        self.assertEqual((doc["output"]["title"], doc["output"]["summary"],
                          doc["output"]["text"]), ("t", "s", "x"))

    def test_summary_and_text_at_most_65535_bytes(self):
        hub, token = self.hub_and_token()
        for field in ("summary", "text"):
            out = {"title": "t", "summary": "s"}
            out[field] = "a" * 65535
            self.assertEqual(self.out(hub, token, out)[0], 201, field)
            out[field] = "a" * 65536
            self.assert_invalid(self.out(hub, token, out), field)
            # GitHub counts bytes: 32768 two-byte characters are too many
            out[field] = "\u00e9" * 32768
            status, _, doc = self.out(hub, token, out)
            self.assert_invalid((status, None, doc), field)
            self.assertIn("bytesize of 65535", json.dumps(doc))
        self.assertEqual(len(hub.check_runs()), 2)

    def test_at_most_50_annotations_each_complete(self):
        hub, token = self.hub_and_token()
        out = {"title": "t", "summary": "s", "annotations": [ANNOTATION] * 50}
        status, _, doc = self.out(hub, token, out)
        self.assertEqual((status, doc["output"]["annotations_count"]), (201, 50))
        out["annotations"] = [ANNOTATION] * 51
        self.assert_invalid(self.out(hub, token, out), "annotations")
        for key in ANNOTATION:
            broken = dict(ANNOTATION)
            del broken[key]
            out["annotations"] = [ANNOTATION, broken]
            self.assert_invalid(self.out(hub, token, out), "annotations[1].%s" % key)
        out["annotations"] = [dict(ANNOTATION, annotation_level="error")]
        self.assert_invalid(self.out(hub, token, out), "annotations[0].annotation_level")
        self.assertEqual(len(hub.check_runs()), 1)

    def test_annotations_add_up_across_updates(self):
        hub, token = self.hub_and_token()
        run_id = self.out(hub, token, {"title": "t", "summary": "s",
                                       "annotations": [ANNOTATION] * 2})[2]["id"]
        status, _, doc = self.update(hub, token, run_id, {"output": {
            "title": "t2", "summary": "s2", "annotations": [ANNOTATION] * 3}})
        self.assertEqual((status, doc["output"]["annotations_count"]), (200, 5))
        self.assertEqual(doc["output"]["title"], "t2")
        [run] = hub.check_runs()
        self.assertEqual(len(run["annotations"]), 5)


class TestUpdateAndGet(ChecksCase):
    def test_update_changes_the_run_and_answers_200(self):
        hub, token = self.hub_and_token()
        run_id = self.create(hub, token, {"name": "hookq", "head_sha": SHA,
                                          "status": "in_progress"})[2]["id"]
        status, _, doc = self.update(hub, token, run_id, {
            "conclusion": "failure", "output": {"title": "exit 1", "summary": "failed"},
            "details_url": "https://ci.example/2"})
        self.assertEqual(status, 200, doc)
        self.assertEqual((doc["id"], doc["status"], doc["conclusion"], doc["details_url"]),
                         (run_id, "completed", "failure", "https://ci.example/2"))
        self.assertIsNotNone(doc["completed_at"])
        status, _, got = hub.json_request("GET", "/repos/%s/check-runs/%d" % (REPO, run_id),
                                          auth="token " + token)
        self.assertEqual((status, got), (200, doc))
        # a status other than completed reopens the run
        status, _, doc = self.update(hub, token, run_id, {"status": "in_progress"})
        self.assertEqual((status, doc["status"], doc["conclusion"], doc["completed_at"]),
                         (200, "in_progress", None, None))
        [run] = hub.check_runs()
        self.assertEqual([h["op"] for h in run["history"]], ["create", "update", "update"])
        self.assertEqual(run["history"][1]["body"]["conclusion"], "failure")
        self.assertEqual(run["status"], "in_progress")

    def test_update_validates_what_it_is_given(self):
        hub, token = self.hub_and_token()
        run_id = self.create(hub, token)[2]["id"]
        self.assert_invalid(self.update(hub, token, run_id, {"status": "completed"}),
                            "conclusion")
        self.assert_invalid(self.update(hub, token, run_id, {"conclusion": "ok"}), "conclusion")
        self.assert_invalid(self.update(hub, token, run_id, {"output": {"title": "t"}}),
                            "summary")
        self.assertEqual(self.update(hub, token, run_id, "{")[0], 400)
        [run] = hub.check_runs()
        self.assertEqual((run["status"], len(run["history"])), ("queued", 1))
        # once it has a conclusion, completing it again needs none
        self.assertEqual(self.update(hub, token, run_id, {"conclusion": "success"})[0], 200)
        self.assertEqual(self.update(hub, token, run_id, {"status": "completed"})[0], 200)

    def test_unknown_run_or_another_repository_is_404(self):
        hub, token = self.hub_and_token()
        run_id = self.create(hub, token)[2]["id"]
        for rid, repo in ((run_id + 1, REPO), (1, REPO), (run_id, "octo/other")):
            self.assertEqual(self.update(hub, token, rid, {"status": "queued"}, repo=repo)[0],
                             404, (rid, repo))
            status, _, _ = hub.json_request("GET", "/repos/%s/check-runs/%d" % (repo, rid),
                                            auth="token " + token)
            self.assertEqual(status, 404)
        self.assertEqual(len(hub.check_runs()[0]["history"]), 1)


class TestList(ChecksCase):
    def test_newest_first_latest_per_name_by_default(self):
        hub, token = self.hub_and_token()
        a1 = self.create(hub, token, {"name": "a", "head_sha": SHA})[2]["id"]
        b1 = self.create(hub, token, {"name": "b", "head_sha": SHA,
                                      "conclusion": "success"})[2]["id"]
        a2 = self.create(hub, token, {"name": "a", "head_sha": SHA})[2]["id"]
        self.create(hub, token, {"name": "a", "head_sha": SHA2})
        self.create(hub, token, {"name": "a", "head_sha": SHA}, repo="octo/other")
        status, _, doc = self.list(hub, token)
        self.assertEqual(status, 200)
        self.assertEqual((doc["total_count"], [r["id"] for r in doc["check_runs"]]),
                         (2, [a2, b1]))
        self.assertEqual(self.list(hub, token, query="?filter=latest")[2], doc)
        doc = self.list(hub, token, query="?filter=all")[2]
        self.assertEqual([r["id"] for r in doc["check_runs"]], [a2, b1, a1])
        doc = self.list(hub, token, query="?filter=all&check_name=a")[2]
        self.assertEqual([r["id"] for r in doc["check_runs"]], [a2, a1])
        doc = self.list(hub, token, query="?status=completed")[2]
        self.assertEqual([r["id"] for r in doc["check_runs"]], [b1])
        doc = self.list(hub, token, sha=SHA.upper(), query="?check_name=b")[2]
        self.assertEqual([r["id"] for r in doc["check_runs"]], [b1])
        self.assertEqual(self.list(hub, token, query="?check_name=c")[2],
                         {"total_count": 0, "check_runs": []})

    def test_paging_with_link_next(self):
        hub, token = self.hub_and_token()
        ids = [self.create(hub, token, {"name": "hook q/%d" % i, "head_sha": SHA})[2]["id"]
               for i in range(5)]
        seen = []
        path = "/repos/%s/commits/%s/check-runs?per_page=2" % (REPO, SHA)
        while path is not None:
            status, headers, doc = hub.json_request("GET", path, auth="token " + token)
            self.assertEqual((status, doc["total_count"]), (200, 5))
            self.assertLessEqual(len(doc["check_runs"]), 2)
            seen += [r["id"] for r in doc["check_runs"]]
            path = None
            for part in headers.get("link", "").split(","):
                if 'rel="next"' in part:
                    url = part.split(";")[0].strip()[1:-1]
                    path = url[len(hub.url):]
                    self.assertTrue(url.startswith(hub.url), url)
        self.assertEqual(seen, ids[::-1])
        _, headers, doc = self.list(hub, token, query="?per_page=2&page=3")
        self.assertEqual([r["id"] for r in doc["check_runs"]], [ids[0]])
        self.assertNotIn("link", headers)
        _, headers, doc = self.list(hub, token, query="?check_name=hook%20q%2F1&per_page=1")
        self.assertEqual([r["id"] for r in doc["check_runs"]], [ids[1]])
        self.assertEqual(len(self.list(hub, token)[2]["check_runs"]), 5)  # default 30

    def test_bad_query_or_ref_is_422(self):
        hub, token = self.hub_and_token()
        for query in ("?per_page=0", "?per_page=101", "?page=0", "?filter=newest",
                      "?status=done"):
            self.assertEqual(self.list(hub, token, query=query)[0], 422, query)
        status, _, doc = self.list(hub, token, sha="main")
        self.assertEqual((status, doc["message"]), (422, "No commit found for SHA: main"))


class TestLostAnswers(ChecksCase):
    def test_the_nth_create_is_stored_but_its_answer_lost(self):
        hub, token = self.hub_and_token("--lose-create", "2,4")
        results = []
        for i in range(4):
            try:
                results.append(self.create(hub, token, {"name": "n%d" % i, "head_sha": SHA})[0])
            except (http.client.HTTPException, ConnectionError) as e:
                results.append(type(e).__name__)
        self.assertEqual(results[0], 201)
        self.assertEqual(results[2], 201)
        self.assertNotIsInstance(results[1], int)
        self.assertNotIsInstance(results[3], int)
        runs = hub.check_runs()
        self.assertEqual([r["name"] for r in runs], ["n0", "n1", "n2", "n3"])
        self.assertEqual([r["history"][0]["answer_lost"] for r in runs],
                         [False, True, False, True])
        self.assertEqual(self.list(hub, token, query="?check_name=n1")[2]["total_count"], 1)
        recs = [r for r in hub.records() if r["route"] == "check_runs"]
        self.assertEqual([(r["status"], r["fault"]) for r in recs],
                         [(201, "none"), (0, "lost_answer"), (201, "none"), (0, "lost_answer")])
        self.assertEqual((recs[1]["lost_status"], recs[1]["check_run_id"]), (201, runs[1]["id"]))

    def test_a_lost_update_as_502_is_applied(self):
        hub, token = self.hub_and_token("--lose-update", "1", "--lost-answer", "502")
        run_id = self.create(hub, token)[2]["id"]
        status, _, doc = self.update(hub, token, run_id, {"conclusion": "neutral"})
        self.assertEqual((status, doc["message"]), (502, "Bad Gateway"))
        [run] = hub.check_runs()
        self.assertEqual((run["status"], run["conclusion"]), ("completed", "neutral"))
        self.assertEqual(run["history"][1]["answer_lost"], True)
        self.assertEqual(self.update(hub, token, run_id, {"conclusion": "success"})[0], 200)

    def test_lose_answer_fraction_on_check_runs(self):
        hub, token = self.hub_and_token("--fault-routes", "check_runs", "--lose-answer", "1",
                                        "--lost-answer", "502")
        for _ in range(3):
            self.assertEqual(self.create(hub, token)[0], 502)
        self.assertEqual(len(hub.check_runs()), 3)
        # statuses are not on the fault routes
        self.assertEqual(self.post_status(hub, token)[0], 201)

    def test_a_refused_create_stores_nothing_even_when_lost(self):
        hub, token = self.hub_and_token("--lose-create", "1", "--lost-answer", "502")
        self.assertEqual(self.create(hub, token, {"name": "x"})[0], 422)
        self.assertEqual(hub.check_runs(), [])
        self.assertEqual(self.create(hub, token)[0], 502)  # the first stored create
        self.assertEqual(len(hub.check_runs()), 1)


class TestFaultsAndLimits(ChecksCase):
    def test_existing_faults_reach_check_runs_on_their_route(self):
        hub, token = self.hub_and_token("--fault-routes", "check_runs", "--fail-5xx", "1")
        status, _, _ = self.create(hub, token)
        self.assertIn(status, (500, 502, 503))
        self.assertIn(self.list(hub, token)[0], (500, 502, 503))
        self.assertEqual(hub.check_runs(), [])
        self.assertEqual(self.post_status(hub, token)[0], 201)

    def test_check_runs_are_off_the_default_fault_routes(self):
        hub, token = self.hub_and_token("--rate-429", "1")
        self.assertEqual(self.post_status(hub, token)[0], 429)
        self.assertEqual(self.create(hub, token)[0], 201)

    def test_secondary_limit_on_check_runs(self):
        hub, token = self.hub_and_token("--fault-routes", "statuses,check_runs",
                                        "--secondary-403", "1", "--secondary-retry-after", "7")
        status, headers, doc = self.create(hub, token)
        self.assertEqual((status, headers.get("retry-after")), (403, "7"))
        self.assertIn("secondary rate limit", doc["message"])

    def test_budget_user_agent_and_body_size(self):
        hub, token = self.hub_and_token("--budget", "2")
        status, headers, _ = self.create(hub, token)
        self.assertEqual((status, headers["x-ratelimit-remaining"]), (201, "1"))
        self.assertEqual(self.list(hub, token)[0], 200)
        status, headers, _ = self.create(hub, token)
        self.assertEqual((status, headers["x-ratelimit-remaining"]), (403, "0"))
        self.assertEqual(self.create(hub, token, user_agent=None)[0], 403)
        big = {"name": "x", "head_sha": SHA, "output": {"title": "t", "summary": "s",
                                                        "text": "a" * (1024 * 1024)}}
        self.assertEqual(self.create(hub, token, big)[0], 413)
        self.assertEqual(len(hub.check_runs()), 1)

    def test_check_code_for_forces_write_answers(self):
        hub, token = self.hub_and_token("--check-code-for", "octo/broken=422")
        status, _, doc = self.create(hub, token, repo="octo/broken")
        self.assertEqual((status, doc["message"]), (422, "Validation Failed"))
        self.assertEqual(self.create(hub, token)[0], 201)
        self.assertEqual(len(hub.check_runs()), 1)

    def test_flags_in_help_and_bad_values_exit_2(self):
        r = subprocess.run([fakehub_binary(), "--help"], capture_output=True, text=True,
                           timeout=10)
        for flag in ("--lose-create", "--lose-update", "--lose-answer", "--lost-answer",
                     "--check-code-for", "--check-runs-oldest-first", "--check-runs-page-max",
                     "check_runs", "/_fakehub/check-runs"):
            self.assertIn(flag, r.stdout)
        for args in (["--lose-create", "0"], ["--lose-create", "1,,2"], ["--lost-answer", "eof"],
                     ["--lose-answer", "2"], ["--check-code-for", "octo=422"],
                     ["--fail-5xx", "0.6", "--lose-answer", "0.6"],
                     ["--check-runs-page-max", "0"], ["--check-runs-page-max", "101"],
                     ["--check-runs-page-max", "x"]):
            r = subprocess.run([fakehub_binary()] + args, capture_output=True, text=True,
                               timeout=10)
            self.assertEqual(r.returncode, 2, args)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, (args, r.stderr))


class _Capture(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.got.append((self.headers["X-GitHub-Event"], body))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class TestSendCheckRunWebhook(ChecksCase):
    def test_check_run_payload_keeps_the_test_s_app_id(self):
        srv = http.server.HTTPServer(("127.0.0.1", 0), _Capture)
        srv.got = []
        t = threading.Thread(target=srv.serve_forever, daemon=True)
        t.start()
        try:
            secret = os.path.join(self.dir, "secret")
            with open(secret, "w") as f:
                f.write("s3cret\n")
            hub = self.start("--deliver-to", "http://127.0.0.1:%d/webhook" % srv.server_port,
                             "--webhook-secret-file", secret)
            for app_id in (999, 2 ** 40 + 3, APP_ID):
                payload = {"action": "rerequested",
                           "check_run": {"id": FIRST_ID, "head_sha": SHA, "name": "hookq",
                                         "app": {"id": app_id}},
                           "repository": {"full_name": REPO}, "installation": {"id": 5}}
                status, _, doc = hub.json_request("POST", "/_fakehub/send",
                                                  body={"event": "check_run", "payload": payload})
                self.assertEqual((status, doc["status_code"]), (201, 202), doc)
            self.assertEqual([e for e, _ in srv.got], ["check_run"] * 3)
            self.assertEqual([json.loads(b)["check_run"]["app"]["id"] for _, b in srv.got],
                             [999, 2 ** 40 + 3, APP_ID])
        finally:
            srv.shutdown()
            srv.server_close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
