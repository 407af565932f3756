#!/usr/bin/env python3
"""Sends the demo's burst of signed GitHub deliveries to hookq-receiver.

Part of deploy/demo.sh (python3 standard library only). It plays GitHub: each
delivery carries X-GitHub-Event, X-GitHub-Delivery (a fresh UUID),
X-GitHub-Hook-ID and X-Hub-Signature-256, the HMAC-SHA256 of the exact body
under the webhook secret. Each repository's deliveries go one after another
(so its FIFO order is the order below); the repositories go in parallel, as
GitHub's would. Then a ping, one redelivery of an earlier delivery (same
delivery id and hook id: 200 duplicate) and one delivery signed with the
wrong secret (401).

Every answer is printed on one line and written as a JSON line to --out,
with what the demo's check is expected to say about it (deploy/demo/check.sh
fails commits whose message or pull request title contains "WIP").

usage: send.py --url URL --secret-file FILE --out FILE
"""

import argparse
import hashlib
import hmac
import http.client
import json
import sys
import threading
import urllib.parse
import uuid

HOOK_ID = 424242

# (repository id, full name, installation id): GitHub App installations are
# per owner. octo/broken is the repository fakehub refuses with 422.
REPOS = [
    (1296269, "octo/api", 7),
    (1296270, "octo/web", 7),
    (1296271, "octo/broken", 7),
    (2300001, "acme/engine", 8),
    (2300002, "acme/docs", 8),
]

# Per repository, in order: (event, action, commit message or PR title).
PLAN = {
    "octo/api": [
        ("push", None, "Add a retry budget to the HTTP client"),
        ("pull_request", "opened", "Paginate the /users endpoint"),
        ("push", None, "WIP: rewrite the router"),
        ("pull_request", "synchronize", "Paginate the /users endpoint"),
        ("push", None, "Fix the router rewrite"),
        ("push", None, "Bump the cJSON dependency"),
        ("pull_request", "opened", "WIP: GraphQL experiment"),
        ("push", None, "Document the rate limits"),
    ],
    "octo/web": [
        ("push", None, "Dark mode for the settings page"),
        ("pull_request", "opened", "Lazy-load the avatars"),
        ("push", None, "Cache the bundle for a year"),
        ("push", None, "WIP half-done login form"),
        ("pull_request", "reopened", "Lazy-load the avatars"),
        ("push", None, "Finish the login form"),
    ],
    "octo/broken": [
        ("push", None, "Rename the default branch"),
        ("pull_request", "opened", "Move CI to the new runners"),
    ],
    "acme/engine": [
        ("push", None, "Vectorise the inner loop"),
        ("push", None, "Reduce allocations in the parser"),
        ("pull_request", "opened", "WIP: new scheduler"),
        ("push", None, "Fix an off-by-one in the lexer"),
        ("pull_request", "ready_for_review", "New scheduler"),
        ("push", None, "Release 2.4.0"),
        ("push", None, "WIP"),
    ],
    "acme/docs": [
        ("push", None, "Typo in the install guide"),
        ("pull_request", "opened", "Explain dead letters"),
        ("push", None, "New screenshots"),
        ("push", None, "Link the changelog"),
    ],
}


def sha_of(repo, i):
    """A stable 40-hex commit id per (repository, position)."""
    return hashlib.sha1(f"hookq-demo/{repo}/{i}".encode()).hexdigest()


def payload(event, action, message, repo_id, repo, inst, sha, i):
    """A GitHub-shaped payload with the fields hookq and the check read."""
    owner, name = repo.split("/", 1)
    repository = {
        "id": repo_id, "name": name, "full_name": repo, "private": False,
        "owner": {"login": owner, "type": "Organization"},
        "html_url": f"https://github.com/{repo}", "default_branch": "main",
    }
    sender = {"login": "mona", "id": 9919, "type": "User"}
    body = {}
    if event == "push":
        commit = {
            "id": sha, "message": message, "timestamp": "2026-11-21T09:30:00Z",
            "author": {"name": "Mona Lisa", "email": "mona@example.com", "username": "mona"},
            "added": [], "removed": [], "modified": ["README.md"],
        }
        body = {
            "ref": "refs/heads/main", "before": sha_of(repo, i - 1), "after": sha,
            "created": False, "deleted": False, "forced": False,
            "commits": [commit], "head_commit": commit, "repository": repository,
            "pusher": {"name": "mona", "email": "mona@example.com"}, "sender": sender,
        }
    else:
        number = 100 + i
        body = {
            "action": action, "number": number,
            "pull_request": {
                "number": number, "state": "open", "title": message, "draft": False,
                "user": sender,
                "head": {"ref": f"feature-{i}", "sha": sha, "label": f"mona:feature-{i}"},
                "base": {"ref": "main", "sha": sha_of(repo, 0), "label": f"{owner}:main"},
                "html_url": f"https://github.com/{repo}/pull/{number}",
            },
            "repository": repository, "sender": sender,
        }
    body["installation"] = {"id": inst}
    return json.dumps(body, separators=(",", ":")).encode()


class Sender:
    """Posts deliveries to one receiver from several threads; prints and logs
    each answer under one lock, and collects the unexpected ones."""

    def __init__(self, url, secret, out):
        u = urllib.parse.urlsplit(url)
        self.host, self.port, self.path = u.hostname, u.port, u.path or "/webhook"
        self.secret = secret
        self.out = out
        self.lock = threading.Lock()
        self.failed = []

    def post(self, event, delivery, body, secret=None):
        """One delivery on its own connection; returns (status, result)."""
        sig = hmac.new(secret or self.secret, body, hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": "application/json", "User-Agent": "GitHub-Hookshot/hookq-demo",
            "X-GitHub-Event": event, "X-GitHub-Delivery": delivery,
            "X-GitHub-Hook-ID": str(HOOK_ID), "X-Hub-Signature-256": "sha256=" + sig,
        }
        conn = http.client.HTTPConnection(self.host, self.port, timeout=15)
        try:
            conn.request("POST", self.path, body=body, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
        finally:
            conn.close()
        try:
            doc = json.loads(raw)
        except ValueError:
            doc = {}
        result = doc.get("result") or doc.get("error") or raw.decode("utf-8", "replace")
        return resp.status, str(result)

    def record(self, rec, note):
        """Prints one answer and logs it to --out."""
        label = rec["event"]
        if rec["event"] == "pull_request":
            label = "PR " + rec["action"]
        result = rec["result"]
        if rec["status"] >= 400:
            note = f'{note}: "{result}"'
            result = "refused"
        with self.lock:
            print(f"  {rec['status']} {result:<10} {rec['repo']:<12} {label:<20} "
                  f"{rec['sha'][:7] if rec['sha'] else '-':<7}  {note}", flush=True)
            self.out.write(json.dumps(rec) + "\n")
            self.out.flush()

    def send(self, kind, event, action, message, repo_id, repo, inst, sha, i, body=None,
             delivery=None, secret=None, want=(202,)):
        body = body or payload(event, action, message, repo_id, repo, inst, sha, i)
        delivery = delivery or str(uuid.uuid4())
        try:
            status, result = self.post(event, delivery, body, secret)
        except (OSError, http.client.HTTPException) as e:
            status, result = 0, f"no answer: {e!r}"
        expect = None
        if kind == "delivery":
            expect = "failure" if "WIP" in message else "success"
        rec = {"kind": kind, "repo": repo, "repo_id": repo_id,
               "repo_index": [r[1] for r in REPOS].index(repo), "event": event,
               "action": action, "message": message, "sha": sha, "delivery": delivery,
               "status": status, "result": result, "expect": expect}
        self.record(rec, f'"{message}"' if kind == "delivery" else message)
        if status not in want:
            with self.lock:
                self.failed.append(f"{kind} {delivery}: answered {status} {result}")
        return rec, body

    def repo_burst(self, repo_id, repo, inst, firsts):
        for i, (event, action, message) in enumerate(PLAN[repo], start=1):
            rec, body = self.send("delivery", event, action, message, repo_id, repo, inst,
                                  sha_of(repo, i), i)
            if i == 1:
                firsts[repo] = (rec, body)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--secret-file", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    with open(a.secret_file, "rb") as f:
        secret = f.readline().strip()
    with open(a.out, "w", encoding="utf-8") as out:
        s = Sender(a.url, secret, out)
        repo_id, repo, inst = REPOS[0]
        s.send("ping", "ping", None, "GitHub's hello when a hook is created", repo_id, repo,
               inst, None, 0, body=json.dumps({"zen": "Keep it logically awesome.",
                                                "hook_id": HOOK_ID}).encode(),
               want=(200,))
        firsts = {}
        threads = [threading.Thread(target=s.repo_burst, args=(rid, name, inst, firsts))
                   for rid, name, inst in REPOS]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # GitHub redelivers with the same delivery id and hook id: acknowledged, not queued.
        first, body = firsts[repo]
        s.send("duplicate", first["event"], first["action"],
               "the same delivery again (same X-GitHub-Delivery, same hook id)", repo_id, repo,
               inst, first["sha"], 1, body=body, delivery=first["delivery"], want=(200,))
        # A forged or misconfigured sender: signed with another secret.
        s.send("bad_signature", "push", None, "signed with the wrong secret", repo_id, repo,
               inst, sha_of(repo, 99), 99, secret=b"not the webhook secret", want=(401,))
    if s.failed:
        for line in s.failed:
            print("send.py: unexpected answer: " + line, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
