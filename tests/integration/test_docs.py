"""The docs match the binaries (issue 5): every variable that hookq-receiver
or hookq-worker lists in --help is in README.md's configuration table and in
deploy/hookq.env.example, and the README names no variable the binaries do
not know. Every binary answers --help and --version."""

import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hqlib  # noqa: E402
from hqlib import check  # noqa: E402

VAR = re.compile(r"\bHOOKQ_[A-Z_]+[A-Z]\b")
# Names the README uses that are not settings: the check's environment.
CHECK_ENV = {"HOOKQ_EVENT", "HOOKQ_ACTION", "HOOKQ_REPO", "HOOKQ_SHA", "HOOKQ_DELIVERY",
             "HOOKQ_ATTEMPT"}


def help_vars():
    out = set()
    for name in ("hookq-receiver", "hookq-worker"):
        r = subprocess.run([hqlib.binary(name), "--help"], capture_output=True, text=True,
                           timeout=20)
        check(r.returncode == 0, f"{name} --help exited {r.returncode}")
        out |= set(VAR.findall(r.stdout))
    return out


def test_readme_configuration_matches_help(tmp):
    readme = open(os.path.join(hqlib.source_dir(), "README.md")).read()
    table = readme[readme.index("## Configuration"):readme.index("## Operations")]
    in_table = set(VAR.findall(table))
    known = help_vars()
    check(known - in_table == set(), f"in --help, not in README: {sorted(known - in_table)}")
    build_options = {"HOOKQ_SANITIZE", "HOOKQ_TSAN", "HOOKQ_FUZZ", "HOOKQ_WERROR"}
    everywhere = set(VAR.findall(readme)) - CHECK_ENV - build_options
    check(everywhere - known == set(), f"README names unknown: {sorted(everywhere - known)}")


def test_env_example_has_every_variable(tmp):
    text = open(os.path.join(hqlib.source_dir(), "deploy", "hookq.env.example")).read()
    missing = help_vars() - set(VAR.findall(text))
    check(not missing, f"not in hookq.env.example: {sorted(missing)}")


def test_every_binary_has_help_and_version(tmp):
    for name in ("hookq-receiver", "hookq-worker", "hookqctl", "fakehub"):
        for flag in ("--help", "--version"):
            r = subprocess.run([hqlib.binary(name), flag], capture_output=True, text=True,
                               timeout=20)
            check(r.returncode == 0 and r.stdout.strip(), f"{name} {flag}: {r.returncode}")
        r = subprocess.run([hqlib.binary(name), "--no-such-flag"], capture_output=True,
                           text=True, timeout=20)
        check(r.returncode == 2 and r.stderr.strip(), f"{name} bad flag: {r.returncode}")


TESTS = [(n[5:], f) for n, f in sorted(globals().items()) if n.startswith("test_")]

if __name__ == "__main__":
    hqlib.run_tests(TESTS)
