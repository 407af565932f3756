#!/usr/bin/env python3
"""gen_payloads: writes the benchmark's signed deliveries into DIR.

  push.json / push.sig   ~8 KB push with commits
  pr.json / pr.sig       ~24 KB pull_request "opened"
  secret                 the webhook secret they are signed with
  push-I.json / .sig     with REPOS: the push payload of repository I, for I
                         in 0..REPOS-1 (bench_receiver.lua's BENCH_REPOS)

Usage: gen_payloads.py DIR [REPOS]
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from hqlib import make_payload, sign  # noqa: E402

SECRET = b"bench-webhook-secret-0123456789"


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "secret"), "wb") as f:
        f.write(SECRET + b"\n")
    payloads = {
        "push": make_payload("push", 700001, "bench-org/api-server", size_kb=8,
                             installation_id=31337),
        "pr": make_payload("pull_request", 700002, "bench-org/web-frontend", action="opened",
                           size_kb=24, installation_id=31337),
    }
    for name, body in payloads.items():
        with open(os.path.join(out, name + ".json"), "wb") as f:
            f.write(body)
        with open(os.path.join(out, name + ".sig"), "w") as f:
            f.write(sign(SECRET, body))
        print(f"{name}: {len(body)} bytes")
    repos = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    for i in range(repos):
        body = make_payload("push", 800000 + i, f"bench-org/repo-{i}", size_kb=8,
                            installation_id=31337)
        with open(os.path.join(out, f"push-{i}.json"), "wb") as f:
            f.write(body)
        with open(os.path.join(out, f"push-{i}.sig"), "w") as f:
            f.write(sign(SECRET, body))
    if repos:
        print(f"push-0..{repos - 1}: one push payload per repository")


if __name__ == "__main__":
    main()
