"""HOOKQ_DB naming a PostgreSQL database that cannot serve (issue 8, "Bad
input"): a malformed URI, a wrong password, a role without permission and a
schema from the future. hookq-receiver, hookq-worker and hookqctl each say
so in one line naming HOOKQ_DB, with no password in it, exit with status 2,
and write nothing. Runs on the tests' private cluster (hqlib.pg_database);
skips without one."""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hqlib  # noqa: E402
from hqlib import check  # noqa: E402
from test_settings import _base_env  # noqa: E402

PROGRAMS = ("hookq-receiver", "hookq-worker", "hookqctl")
SECRET = "not-the-password"


def _with_user(uri, userinfo):
    """uri (postgresql://hookq@host:port/db) with its user part replaced."""
    rest = uri.split("@", 1)[1]
    return f"postgresql://{userinfo}@{rest}"


def _refused(tmp, db, why):
    for prog in PROGRAMS:
        env = _base_env(tmp, db)
        cmd = [hqlib.binary(prog)] + (["dlq", "purge", "1"] if prog == "hookqctl" else [])
        try:
            p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=30)
        except subprocess.TimeoutExpired:
            check(False, f"{prog} with {why}: not refused")
        lines = p.stderr.strip().splitlines()
        check(p.returncode == 2, f"{prog} with {why}: exit {p.returncode}, {p.stderr!r}")
        check(len(lines) == 1, f"{prog} with {why}: {p.stderr!r}")
        check("HOOKQ_DB" in lines[0], f"{prog} with {why}: {lines[0]!r}")
        check(SECRET not in p.stderr + p.stdout, f"{prog} with {why}: password shown")


def _tables(uri):
    return int(hqlib.pg_sql(uri, "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'hq_%'"))


def test_malformed_uri(tmp):
    hqlib.pg_database()  # skips without a cluster
    _refused(tmp, f"postgresql://hookq:{SECRET}@[::1/hookq", "a malformed URI")


def test_wrong_password(tmp):
    uri = hqlib.pg_database()
    _refused(tmp, _with_user(uri, f"hookq_pw:{SECRET}"), "a wrong password")
    check(_tables(uri) == 0, "something was written")


def test_role_without_permission(tmp):
    uri = hqlib.pg_database()
    _refused(tmp, _with_user(uri, "hookq_noperm"), "no permission")
    check(_tables(uri) == 0, "something was written")


def test_schema_from_the_future(tmp):
    uri = hqlib.pg_database()
    hqlib.pg_sql(uri, "CREATE TABLE hq_schema (version integer PRIMARY KEY); "
                 "INSERT INTO hq_schema VALUES (999)")
    _refused(tmp, uri, "a schema from the future")
    check(_tables(uri) == 1, "tables were added")


if __name__ == "__main__":
    hqlib.run_tests([(n, f) for n, f in sorted(globals().items()) if n.startswith("test_")])
