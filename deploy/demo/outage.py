#!/usr/bin/env python3
"""The demo's outage: GitHub "sends" pushes while the receiver is down.

Part of deploy/demo.sh (python3 standard library only). Each push goes to
fakehub's POST /_fakehub/send, which delivers it to the receiver's old
address as GitHub would and logs the failure (status_code 0) in the App's
delivery log. One line per push is printed, and appended to --out in
send.py's format (kind, repo, event, action, sha, delivery, status, result,
message, expect), so that report.py can check the statuses catch-up brings.

  outage.py --hub URL --out FILE [--count N]
"""

import argparse
import hashlib
import json
import sys
import urllib.request

REPO, REPO_ID, INSTALLATION = "octo/outage", 9001, 7


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hub", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--count", type=int, default=3)
    a = ap.parse_args()
    with open(a.out, "a", encoding="utf-8") as out:
        for i in range(1, a.count + 1):
            sha = hashlib.sha1(f"{REPO}/{i}".encode()).hexdigest()
            message = f"Fix the flaky test, take {i}"
            commit = {"id": sha, "message": message, "timestamp": "2026-11-21T10:00:00Z",
                      "author": {"name": "Mona Lisa", "email": "mona@example.com"}}
            payload = {"ref": "refs/heads/main", "after": sha, "commits": [commit],
                       "head_commit": commit, "deleted": False,
                       "repository": {"id": REPO_ID, "full_name": REPO, "name": "outage",
                                      "owner": {"login": "octo"}},
                       "installation": {"id": INSTALLATION}}
            req = urllib.request.Request(a.hub + "/_fakehub/send", method="POST",
                                         data=json.dumps({"event": "push",
                                                          "payload": payload}).encode(),
                                         headers={"Content-Type": "application/json",
                                                  "User-Agent": "hookq-demo"})
            with urllib.request.urlopen(req, timeout=10) as resp:
                got = json.loads(resp.read())
            code = got["status_code"]
            print(f"  GitHub -> receiver  push {REPO} {sha[:7]}  delivery {got['guid']}: "
                  f"{'failed to connect' if code == 0 else code}")
            out.write(json.dumps({"kind": "delivery", "repo": REPO, "event": "push",
                                  "action": None, "sha": sha, "delivery": got["guid"],
                                  "status": code, "result": None, "message": message,
                                  "expect": "success", "github_id": got["id"]}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
