"""The settings all three binaries share (common/settings.h, issue 11): given
the same value of HOOKQ_DB, HOOKQ_MAP_SIZE, HOOKQ_SYNC, HOOKQ_LOG_FORMAT or
HOOKQ_LOG_LEVEL, hookq-receiver, hookq-worker and hookqctl reach the same
verdict. A bad value: exit 2 and the same one line naming the variable (a
database password never shown). A good value: the services come up
(/healthz answers) and hookqctl stats works."""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hqlib  # noqa: E402
import hqworker  # noqa: E402
from hqlib import check  # noqa: E402

BAD = [
    ("HOOKQ_DB", "foo://alice:s3cret@db.example/hookq"),
    ("HOOKQ_DB", "foo://db.example/hookq?password=s3cret"),
    ("HOOKQ_DB", "foo://x"),
    ("HOOKQ_MAP_SIZE", "100KiB"),  # once accepted by two binaries, refused by one
    ("HOOKQ_MAP_SIZE", "17TiB"),
    ("HOOKQ_MAP_SIZE", "big"),
    ("HOOKQ_SYNC", "nope"),
    ("HOOKQ_LOG_FORMAT", "yaml"),
    ("HOOKQ_LOG_LEVEL", "chatty"),
]

GOOD = [
    ("HOOKQ_MAP_SIZE", "1MiB"),
    ("HOOKQ_MAP_SIZE", "64MiB"),
    ("HOOKQ_SYNC", "false"),
    ("HOOKQ_LOG_FORMAT", "text"),
    ("HOOKQ_LOG_LEVEL", "debug"),
]

PROGRAMS = ("hookq-receiver", "hookq-worker", "hookqctl")


def _base_env(tmp, db):
    """A complete, good environment for all three binaries."""
    secret = os.path.join(tmp, "secret")
    token = os.path.join(tmp, "token")
    for path, text in ((secret, "s3cret-webhook\n"), (token, "ghp_notarealtoken0000\n")):
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o600)
    e = {k: v for k, v in os.environ.items() if not k.startswith("HOOKQ_")}
    e.update({
        "HOOKQ_DB": db,
        "HOOKQ_LISTEN": f"127.0.0.1:{hqlib.free_port()}",
        "HOOKQ_WEBHOOK_SECRET_FILE": secret,
        "HOOKQ_TOKEN_FILE": token,
        "HOOKQ_CHECK_CMD": "true",
        "HOOKQ_GITHUB_API": "http://127.0.0.1:9",
        "HOOKQ_METRICS_LISTEN": f"127.0.0.1:{hqlib.free_port()}",
        "HOOKQ_PACING": "false",
    })
    return e


def _refusal(program, env):
    """Runs program with env; returns its one stderr line without the
    program's prefix, or fails unless it exited 2 with exactly one line."""
    cmd = [hqlib.binary(program)] + (["stats"] if program == "hookqctl" else [])
    try:
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        check(False, f"{program} started with HOOKQ_DB={env['HOOKQ_DB']!r}: not refused")
    lines = p.stderr.strip().splitlines()
    check(p.returncode == 2 and len(lines) == 1,
          f"{program}: exit {p.returncode}, stderr {p.stderr!r}")
    prefix = program + ": "
    check(lines[0].startswith(prefix), f"{program}: {lines[0]!r}")
    return lines[0][len(prefix):]


def test_bad_values_same_verdict_and_message(tmp):
    db = os.path.join(tmp, "db")
    for var, value in BAD:
        env = _base_env(tmp, db)
        env[var] = value
        msgs = {prog: _refusal(prog, env) for prog in PROGRAMS}
        check(len(set(msgs.values())) == 1, f"{var}={value}: different messages {msgs}")
        msg = msgs["hookqctl"]
        check(msg.startswith(var + ": "), f"{var}={value}: {msg!r}")
        check("s3cret" not in msg, f"{var}={value}: a password was shown: {msg!r}")
        if value.startswith("foo"):
            check("unknown scheme" in msg, msg)
        check(not os.path.exists(db), f"{var}={value}: a database was created")


def test_bad_db_given_to_hookqctl_as_option(tmp):
    env = _base_env(tmp, os.path.join(tmp, "db"))
    r = hqlib.hookqctl("stats", db="foo://alice:s3cret@h/db", env=env)
    check(r.returncode == 2, f"exit {r.returncode}")
    check(r.stderr == "hookqctl: --db: unknown scheme: use a directory (LMDB) or postgresql:// "
          "(got 'foo://***@h/db')\n", repr(r.stderr))


def _starts(tmp, env):
    """The receiver and the worker come up on env; hookqctl stats works."""
    rcv = hqlib.start_receiver(tmp, env={"HOOKQ_MAP_SIZE": None, **env})
    try:
        check(rcv.get("/healthz")[0] == 200, "receiver /healthz")
    finally:
        check(rcv.stop() == 0, "receiver exit status")
    w = hqworker.start_worker(tmp, env["HOOKQ_DB"], env["HOOKQ_GITHUB_API"],
                              token_file=env["HOOKQ_TOKEN_FILE"],
                              env={"HOOKQ_MAP_SIZE": None, **env})
    try:
        check(w.get("/healthz")[0] == 200, "worker /healthz")
    finally:
        check(w.stop() == 0, "worker exit status")
    r = hqlib.hookqctl("stats", "--json", env=env)
    check(r.returncode == 0 and '"queued":0' in r.stdout.replace(" ", ""),
          f"hookqctl stats: {r.returncode} {r.stdout!r} {r.stderr!r}")


def test_good_values_start_all_three(tmp):
    for i, (var, value) in enumerate(GOOD):
        work = os.path.join(tmp, f"case{i}")
        os.makedirs(work)
        env = _base_env(work, os.path.join(work, "db"))
        env[var] = value
        # The helpers pick their own ports, secrets and map size unless told.
        for k in ("HOOKQ_LISTEN", "HOOKQ_METRICS_LISTEN", "HOOKQ_WEBHOOK_SECRET_FILE"):
            env.pop(k)
        _starts(work, {k: v for k, v in env.items() if k.startswith("HOOKQ_")})


def test_hookqctl_without_map_size_keeps_the_database_size(tmp):
    """hookqctl's writes open an existing database without HOOKQ_MAP_SIZE
    (the database keeps its own size) and refuse a value out of the one
    bound before opening it."""
    db = os.path.join(tmp, "db")
    env = _base_env(tmp, db)
    rcv = hqlib.start_receiver(tmp, env={"HOOKQ_DB": db, "HOOKQ_MAP_SIZE": "64MiB"})
    check(rcv.stop() == 0, "receiver exit status")
    r = hqlib.hookqctl("dlq", "purge", "--all", env=env)
    check(r.returncode == 1 and "hookqctl: " in r.stderr, f"purge: {r.returncode} {r.stderr!r}")
    r = hqlib.hookqctl("stats", "--json", env=env)
    check(r.returncode == 0 and '"map_size":67108864' in r.stdout.replace(" ", ""), r.stdout)
    env["HOOKQ_MAP_SIZE"] = "100KiB"
    r = hqlib.hookqctl("dlq", "purge", "--all", env=env)
    check(r.returncode == 2 and r.stderr.startswith("hookqctl: HOOKQ_MAP_SIZE: out of range"),
          r.stderr)


TESTS = [(n[5:], f) for n, f in sorted(globals().items()) if n.startswith("test_")]

if __name__ == "__main__":
    hqlib.run_tests(TESTS)
