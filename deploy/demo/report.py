#!/usr/bin/env python3
"""Reads what the demo's GitHub stand-in received and what was sent.

Part of deploy/demo.sh (python3 standard library only). Inputs are files in
the demo's work directory: fakehub's record (one JSON line per request it
answered; a status GitHub would show is route "statuses", status 201, fault
"none") and send.py's log of the deliveries (sent.jsonl).

  report.py statuses --record FILE --sent FILE [--repo NAME]
      Prints, per repository in the order they were sent, each commit that
      got a status: short sha, the states posted in order, the description.
  report.py checkruns --runs FILE --sent FILE [--broken REPO]
      With demo.sh --checks: prints, per repository, each delivery's check
      run (from fakehub's GET /_fakehub/check-runs) with its conclusion and
      title, and checks that every accepted delivery got exactly one run,
      completed with the conclusion its check gives (success, or failure
      for a WIP commit); REPO's deliveries (refused with 422) get none.
      Exit status 1 (with one line per problem) when a check fails.
  report.py summary --work DIR --out FILE [--failed TEXT]
      Writes the machine-readable summary (HOOKQ_DEMO_SUMMARY) and checks
      it: every accepted delivery's commit has the final state the check
      gives it, the dead letters were replayed, the pushes of the outage
      (sent-outage.jsonl) were caught up exactly once and got their
      statuses, every service exited 0.
      Exit status 1 (with one line per problem) when a check fails.
"""

import argparse
import json
import os
import sys


def read_jsonl(path):
    out = []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.endswith("\n") and line.strip():
                    out.append(json.loads(line))
    except FileNotFoundError:
        pass
    return out


def read_json(path, default=None):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (FileNotFoundError, ValueError):
        return default


def repo_order(sent):
    """The repositories in the order send.py lists them."""
    index = {}
    for s in sent:
        if s["kind"] == "delivery":
            index.setdefault(s["repo"], s.get("repo_index", len(index)))
    return sorted(index, key=index.get)


def statuses_by_repo(records):
    """{repo: [{"sha", "state", "description"}, ...]} in the order posted."""
    out = {}
    for r in records:
        if r.get("route") == "statuses" and r.get("status") == 201 and r.get("fault") == "none":
            body = r.get("body") or {}
            out.setdefault(r["repo"], []).append({
                "sha": r["sha"], "state": body.get("state"),
                "description": body.get("description"), "context": body.get("context"),
            })
    return out


def refused_by_repo(records):
    """{repo: {status: count}} of status posts GitHub refused."""
    out = {}
    for r in records:
        if r.get("route") == "statuses" and r.get("status") != 201:
            c = out.setdefault(r["repo"], {})
            c[r["status"]] = c.get(r["status"], 0) + 1
    return out


def final_states(statuses):
    """{repo: {sha: last status}} without pending."""
    out = {}
    for repo, rows in statuses.items():
        for row in rows:
            if row["state"] != "pending":
                out.setdefault(repo, {})[row["sha"]] = row
    return out


def cmd_statuses(a):
    sent = read_jsonl(a.sent)
    records = read_jsonl(a.record)
    by_repo = statuses_by_repo(records)
    refused = refused_by_repo(records)
    repos = [a.repo] if a.repo else repo_order(sent)
    for repo in repos:
        rows = by_repo.get(repo, [])
        shas = []
        states = {}
        desc = {}
        for row in rows:
            if row["sha"] not in states:
                shas.append(row["sha"])
                states[row["sha"]] = []
            states[row["sha"]].append(row["state"])
            desc[row["sha"]] = row["description"] or ""
        print(f"  {repo}")
        for sha in shas:
            print(f"    {sha[:7]}  {' -> '.join(states[sha]):<20} {desc[sha]}")
        if not shas:
            why = ", ".join(f"{n} answered {code}" for code, n in sorted(refused.get(repo, {}).items()))
            print(f"    (no status: {why or 'nothing posted'})")
    return 0


def cmd_checkruns(a):
    sent = read_jsonl(a.sent)
    runs = (read_json(a.runs, {}) or {}).get("check_runs", [])
    by_delivery = {}
    for r in runs:
        by_delivery.setdefault(r.get("external_id"), []).append(r)
    problems = []
    for repo in repo_order(sent):
        print(f"  {repo}")
        for s in sent:
            if s["kind"] != "delivery" or s["repo"] != repo:
                continue
            rs = by_delivery.get(s["delivery"], [])
            if repo == a.broken:
                print(f"    {s['sha'][:7]}  (no run: GitHub refused the create with 422)")
                if rs:
                    problems.append(f"{repo} {s['sha'][:7]}: {len(rs)} runs, expected none")
                continue
            if len(rs) != 1:
                problems.append(f"{repo} {s['sha'][:7]}: {len(rs)} check runs, expected 1")
                print(f"    {s['sha'][:7]}  {len(rs)} runs")
                continue
            r = rs[0]
            title = (r.get("output") or {}).get("title", "")
            lines = len(((r.get("output") or {}).get("text") or "").splitlines())
            print(f"    {s['sha'][:7]}  run {r['id']}  {r['status']:<9} {r.get('conclusion') or '':<8}"
                  f" {title}  ({lines} line{'' if lines == 1 else 's'} of output)")
            if r["status"] != "completed" or r.get("conclusion") != s["expect"]:
                problems.append(f"{repo} {s['sha'][:7]}: {r['status']} {r.get('conclusion')}, "
                                f"expected {s['expect']}")
    for p in problems:
        print(f"  PROBLEM: {p}")
    return 1 if problems else 0


def cmd_summary(a):
    w = a.work
    sent = read_jsonl(os.path.join(w, "sent.jsonl"))
    records = read_jsonl(os.path.join(w, "fakehub.jsonl"))
    before = read_jsonl(os.path.join(w, "fakehub-before-replay.jsonl"))
    dead_before = read_jsonl(os.path.join(w, "dlq-before-replay.jsonl"))
    stats_before = read_json(os.path.join(w, "stats-before-replay.json"), {})
    stats_after = read_json(os.path.join(w, "stats-after-replay.json"), {})
    # started.txt: "name pid" at each start; services.txt: "name pid exit" at each stop.
    services = []
    exits = {}
    for fname in ("started.txt", "services.txt"):
        try:
            with open(os.path.join(w, fname), encoding="utf-8") as f:
                for line in f:
                    fields = line.split()
                    if fname == "started.txt" and len(fields) == 2:
                        services.append({"name": fields[0], "pid": int(fields[1]),
                                         "exit_code": None})
                    elif len(fields) == 3:
                        exits[int(fields[1])] = int(fields[2])
        except FileNotFoundError:
            pass
    for svc in services:
        svc["exit_code"] = exits.get(svc["pid"])
    timing = read_json(os.path.join(w, "timing.json"), {})

    outage = read_jsonl(os.path.join(w, "sent-outage.jsonl"))
    caught = read_jsonl(os.path.join(w, "catchup.jsonl"))
    outage_repos = {s["repo"] for s in outage}
    all_statuses = statuses_by_repo(records)
    statuses = {r: v for r, v in all_statuses.items() if r not in outage_repos}
    finals = final_states(statuses)
    outage_finals = final_states({r: v for r, v in all_statuses.items() if r in outage_repos})
    repos = repo_order(sent)
    problems = [a.failed] if a.failed else []
    check = not a.failed  # after a failure, the reason is the one problem

    final_out = {}
    for s in sent:
        if s["kind"] != "delivery":
            continue
        got = finals.get(s["repo"], {}).get(s["sha"])
        final_out.setdefault(s["repo"], []).append({
            "sha": s["sha"], "event": s["event"], "action": s["action"],
            "message": s["message"], "expect": s["expect"],
            "state": got["state"] if got else None,
            "description": got["description"] if got else None,
        })
        if not check:
            continue
        if s["status"] != 202:
            problems.append(f"{s['repo']} {s['sha'][:7]}: receiver answered {s['status']}")
        elif got is None:
            problems.append(f"{s['repo']} {s['sha'][:7]}: no final status arrived")
        elif got["state"] != s["expect"]:
            problems.append(f"{s['repo']} {s['sha'][:7]}: {got['state']}, expected {s['expect']}")
    by_kind = {s["kind"]: s for s in sent if s["kind"] != "delivery"}
    if check:
        for kind, status, result in (("ping", 200, "pong"), ("duplicate", 200, "duplicate"),
                                     ("bad_signature", 401, None)):
            s = by_kind.get(kind)
            if s is None or s["status"] != status or (result and s["result"] != result):
                problems.append(f"{kind}: answered {s and (s['status'], s['result'])}, "
                                f"expected {status} {result or ''}".rstrip())
        if not dead_before:
            problems.append("no dead letter before the replay")
        if stats_after.get("dead") != 0 or stats_after.get("queued") != 0:
            problems.append(f"queue after the replay: {stats_after}")
        for svc in services:
            if svc["exit_code"] != 0:
                problems.append(f"{svc['name']} (pid {svc['pid']}) exited {svc['exit_code']}")

    catch_up = {"sent": [], "results": caught}
    for s in outage:
        got = outage_finals.get(s["repo"], {}).get(s["sha"])
        posted = [row["sha"] for row in all_statuses.get(s["repo"], []) if row["sha"] == s["sha"]
                  and row["state"] != "pending"]
        catch_up["sent"].append({"sha": s["sha"], "delivery": s["delivery"],
                                 "status_code": s["status"],
                                 "state": got["state"] if got else None, "finals": len(posted)})
        if not check:
            continue
        if s["status"] != 0:
            problems.append(f"outage {s['sha'][:7]}: the receiver answered {s['status']}")
        if got is None or got["state"] != s["expect"] or len(posted) != 1:
            problems.append(f"outage {s['sha'][:7]}: final statuses {posted}, expected one "
                            f"{s['expect']}")
    if check and outage:
        results = {c["guid"]: c["result"] for c in caught}
        for s in outage:
            if results.get(s["delivery"]) not in ("enqueued", "duplicate"):
                problems.append(f"catch-up: {s['delivery']} is {results.get(s['delivery'])}")

    summary = {
        "ok": not problems,
        "problems": problems,
        "repositories": repos,
        "deliveries": {
            "sent": len(sent),
            "accepted": sum(1 for s in sent if s["status"] == 202),
            "answers": [{k: s[k] for k in ("kind", "repo", "event", "action", "sha",
                                           "delivery", "status", "result")} for s in sent],
        },
        "statuses_before_replay": statuses_by_repo(before),
        "statuses": statuses,
        "final": final_out,
        "dead_letters_before_replay": dead_before,
        "stats_before_replay": stats_before,
        "stats_after_replay": stats_after,
        "dead_after_replay": stats_after.get("dead"),
        "catch_up": catch_up,
        "services": services,
        "pids": sorted({s["pid"] for s in services}),
        "timing": timing,
    }
    tmp = a.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=1)
        f.write("\n")
    os.replace(tmp, a.out)
    for p in problems:
        print("  problem: " + p, file=sys.stderr)
    return 0 if not problems else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("statuses")
    s.add_argument("--record", required=True)
    s.add_argument("--sent", required=True)
    s.add_argument("--repo")
    s.set_defaults(fn=cmd_statuses)
    c = sub.add_parser("checkruns")
    c.add_argument("--runs", required=True)
    c.add_argument("--sent", required=True)
    c.add_argument("--broken")
    c.set_defaults(fn=cmd_checkruns)
    m = sub.add_parser("summary")
    m.add_argument("--work", required=True)
    m.add_argument("--out", required=True)
    m.add_argument("--failed")
    m.set_defaults(fn=cmd_summary)
    a = ap.parse_args()
    return a.fn(a)


if __name__ == "__main__":
    sys.exit(main())
