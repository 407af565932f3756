#!/usr/bin/env python3
"""test_powerloss: a simulated power loss under concurrent load (issue 12,
"Durability is the product"). A kill -9 keeps the page cache, so a missing
sync never shows under it; here the receiver runs with the powerloss
interposer (tests/tools/powerloss.c), which journals every change to the
database that is not yet synced, and after the kill -9 powerloss_apply drops
those changes: the database is as the disk would hold it after the power went
out. Over many rounds at random moments, every delivery answered 2xx is in
the queue afterwards with its id, and the database opens cleanly.

The same rounds prove that they can fail: with HOOKQ_SYNC=false, with the
commit's last sync (LMDB's meta page) skipped and with its data sync skipped,
acknowledged deliveries must be lost, or the database must not open, in at
least one round each. An interposer self-test shows the journal itself at
work on a small writer."""

import json
import os
import random
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hqlib import (Senders, binary, build_dir, check, hookqctl, make_payload,  # noqa: E402
                   post_delivery, run_tests, skip, start_receiver)

SECRET = b"powerloss-test-secret"
ROUNDS = int(os.environ.get("HOOKQ_POWERLOSS_ROUNDS", "24"))
CONTROL_ROUNDS = int(os.environ.get("HOOKQ_POWERLOSS_CONTROL_ROUNDS", "8"))
SEED = int(os.environ.get("HOOKQ_POWERLOSS_SEED", "20261202"))
SENDERS = 8
# lock.mdb is rebuilt by the first process that opens the environment, and
# wake is a mapped counter of wake-ups: neither holds data.
EXCLUDE = "lock.mdb:wake"
MAP_SIZE = "1GiB"  # room for every round's load over one database


def tool(name):
    path = os.path.join(build_dir(), "tests", "tools", name)
    if not os.path.exists(path):
        skip(f"{name} not built in {build_dir()}/tests/tools")
    return path


def preload(program):
    """LD_PRELOAD for program: the interposer, after the sanitizer runtime
    when program is instrumented (ASan and TSan must come first)."""
    lib = tool("powerloss.so")
    out = subprocess.run(["ldd", program], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if ("libasan" in line or "libtsan" in line) and "=>" in line:
            return line.split("=>")[1].split()[0] + ":" + lib
    return lib


def power_loss(db):
    """Plays the journals back: the "power loss". Returns how many writes
    were dropped."""
    p = subprocess.run([tool("powerloss_apply"), db], capture_output=True, text=True)
    check(p.returncode == 0, f"powerloss_apply: {p.stderr}")
    undone = 0
    for line in p.stdout.splitlines():
        if ": dropped " in line:
            undone += int(line.split(": dropped ")[1].split()[0])
    return undone


def survey(db):
    """What a restart would find: (None, {delivery: id}) when the database
    opens cleanly (hookqctl stats and list, and LMDB's own mdb_stat), else
    (why, {}). A 0-byte data.mdb counts as not opening."""
    data = os.path.join(db, "data.mdb")
    if not os.path.exists(data) or os.path.getsize(data) == 0:
        return "data.mdb is missing or empty", {}
    try:
        st = hookqctl("stats", "--json", db=db, timeout=30)
        ls = hookqctl("list", "--json", db=db, timeout=30)
        ms = subprocess.run(["mdb_stat", "-a", db], capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        return "hookqctl or mdb_stat hung", {}
    for name, p in (("hookqctl stats", st), ("hookqctl list", ls), ("mdb_stat", ms)):
        if p.returncode != 0:
            how = (f"died of {signal.Signals(-p.returncode).name}" if p.returncode < 0
                   else f"exited {p.returncode}")
            last = (p.stderr.strip().splitlines() or [""])[-1][:160]
            return f"{name} {how}" + (f": {last}" if last else ""), {}
    stored = {}
    for line in ls.stdout.splitlines():
        if line.strip():
            e = json.loads(line)
            stored[e["delivery"]] = e["id"]
    return None, stored


_BODIES = {}


def body_for(repo, size_kb):
    """A push payload, made once: the senders must not be slower than the
    receiver, or every kill lands between commits."""
    key = (repo, size_kb)
    if key not in _BODIES:
        _BODIES[key] = make_payload("push", repo, f"power/r{repo}", size_kb=size_kb)
    return _BODIES[key]


def load_round(workdir, db, rng, tag, env, acked):
    """One round: a receiver with the interposer over db, SENDERS threads
    posting signed deliveries, a kill -9 at a random moment (under load, or
    a moment after the load stopped), then the power loss. Adds what was
    answered 2xx to acked; returns (writes dropped, posts)."""
    e = {"HOOKQ_MAP_SIZE": MAP_SIZE, "LD_PRELOAD": preload(binary("hookq-receiver")),
         "HQ_POWERLOSS_DIR": db, "HQ_POWERLOSS_EXCLUDE": EXCLUDE}
    e.update(env)
    r = start_receiver(workdir, secrets=[SECRET], db=db, env=e)
    def make(k, n):
        repo = 1 + (k * 5 + n) % 12
        return f"{tag}-s{k}-{n}", repo, body_for(repo, (2, 8, 24)[(n + 1) % 3])

    senders = Senders(r.url, SENDERS, make, SECRET)
    try:
        if rng.random() < 0.75:
            time.sleep(rng.uniform(0.05, 0.6))
        else:
            time.sleep(rng.uniform(0.1, 0.4))
            senders.stop()
            time.sleep(rng.uniform(0.0, 0.1))
        r.kill()
    finally:
        senders.stop()
        r.kill()
    acked.update({d: i for d, (i, _repo) in senders.acked.items()})
    # The interposer reports its own failures (a journal it could not write)
    # on the receiver's stderr: a round with one proves nothing.
    trouble = [line for line in r.log_text().splitlines() if line.startswith("powerloss:")]
    check(not trouble, f"{tag}: the interposer failed: {trouble[:3]}")
    return power_loss(db), senders.posted


def lost_of(acked, stored):
    return [d for d, i in acked.items() if stored.get(d) != i]


def test_interposer_drops_unsynced_writes(tmp):
    """A writer that syncs A, then overwrites, extends, truncates and writes
    through an O_DSYNC descriptor, killed: after the power loss the file holds
    A and the O_DSYNC write only. A stale journal is refused, and so is a
    writable shared mapping of a tracked file."""
    d = os.path.join(tmp, "d")
    os.makedirs(d)
    writer = r"""
import mmap, os, signal, sys
d = sys.argv[1]
fd = os.open(d + "/f", os.O_RDWR | os.O_CREAT, 0o600)
os.write(fd, b"A" * 10000)
os.fdatasync(fd)
os.pwrite(fd, b"B" * 100, 50)
os.writev(fd, [b"C" * 5000, b"D" * 5000])
meta = os.open(d + "/f", os.O_WRONLY | os.O_DSYNC)
os.pwrite(meta, b"S" * 10, 20)
os.pwrite(fd, b"E" * 30, 10)
os.ftruncate(fd, 5000)
try:
    mmap.mmap(fd, 4096, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    print("mapped")
except OSError:
    print("mapping refused")
sys.stdout.flush()
os.kill(os.getpid(), signal.SIGKILL)
"""
    env = dict(os.environ, LD_PRELOAD=tool("powerloss.so"), HQ_POWERLOSS_DIR=d)
    p = subprocess.run([sys.executable, "-c", writer, d], env=env, capture_output=True,
                       text=True, timeout=30)
    check(p.returncode == -signal.SIGKILL, f"writer: {p.returncode} {p.stderr}")
    check(p.stdout.strip() == "mapping refused", f"writable mapping: {p.stdout!r}")
    with open(os.path.join(d, "f"), "rb") as f:
        check(len(f.read()) == 5000, "the kill -9 alone keeps the unsynced writes")
    # A torn record at the tail (a kill while it was appended) is ignored.
    with open(os.path.join(d, "f.plundo"), "ab") as f:
        f.write(b"PLJ1\x01\x00")
    undone = power_loss(d)
    with open(os.path.join(d, "f"), "rb") as f:
        got = f.read()
    want = b"A" * 20 + b"S" * 10 + b"A" * 9970
    check(got == want, f"after the power loss: {len(got)} bytes, starts {got[:40]!r}")
    check(undone == 4, f"{undone} writes dropped, want 4 (the O_DSYNC one is kept)")
    check(not os.path.exists(os.path.join(d, "f.plundo")), "journal removed")

    # A journal that was not applied is refused: its undo would be lost.
    with open(os.path.join(d, "f.plundo"), "wb") as f:
        f.write(b"x" * 40)
    p = subprocess.run([sys.executable, "-c",
                        "import os,sys; os.open(sys.argv[1] + '/f', os.O_RDWR)", d],
                       env=env, capture_output=True, text=True, timeout=30)
    check(p.returncode != 0 and "run powerloss_apply" in p.stderr,
          f"stale journal: {p.returncode} {p.stderr}")


def test_interposer_skip_last_sync_makes_each_sync_one_late(tmp):
    """The skip_last_sync control: A synced, B synced, C written, killed. Each
    sync made durable only what the sync before it covered, so the power loss
    leaves A, where a faithful run leaves B."""
    writer = r"""
import os, signal, sys
fd = os.open(sys.argv[1] + "/f", os.O_RDWR | os.O_CREAT, 0o600)
for c in (b"A", b"B"):
    os.pwrite(fd, c * 100, 0)
    os.fdatasync(fd)
os.pwrite(fd, b"C" * 100, 0)
os.kill(os.getpid(), signal.SIGKILL)
"""
    for skip, want in (("0", b"B" * 100), ("1", b"A" * 100)):
        d = os.path.join(tmp, "skip" + skip)
        os.makedirs(d)
        env = dict(os.environ, LD_PRELOAD=tool("powerloss.so"), HQ_POWERLOSS_DIR=d,
                   HQ_POWERLOSS_SKIP_LAST_SYNC=skip)
        p = subprocess.run([sys.executable, "-c", writer, d], env=env, capture_output=True,
                           text=True, timeout=30)
        check(p.returncode == -signal.SIGKILL, f"writer: {p.returncode} {p.stderr}")
        power_loss(d)
        with open(os.path.join(d, "f"), "rb") as f:
            got = f.read()
        check(got == want, f"skip_last_sync={skip}: {got[:10]!r}..., want {want[:10]!r}...")


def test_acknowledged_deliveries_survive_power_loss(tmp):
    rng = random.Random(SEED)
    db = os.path.join(tmp, "db")
    acked = {}
    posts = dropped_rounds = 0
    t0 = time.time()
    for rnd in range(ROUNDS):
        undone, n = load_round(os.path.join(tmp, f"round-{rnd}"), db, rng, f"p{rnd}", {}, acked)
        posts += n
        dropped_rounds += undone > 0
        why, stored = survey(db)
        check(why is None, f"round {rnd}: the database does not open after the power loss: {why}")
        lost = lost_of(acked, stored)
        check(not lost, f"round {rnd}: {len(lost)} of {len(acked)} acknowledged deliveries "
                        f"lost, e.g. {lost[:3]}")
    check(len(acked) > ROUNDS * 10, f"too little load: {len(acked)} acknowledged")
    # The power loss must have hit unsynced writes, or nothing was tested.
    check(dropped_rounds >= ROUNDS // 4,
          f"only {dropped_rounds} of {ROUNDS} power losses dropped a write")
    # A last start without the interposer: the receiver opens what is left.
    r = start_receiver(os.path.join(tmp, "final"), secrets=[SECRET], db=db,
                       env={"HOOKQ_MAP_SIZE": MAP_SIZE})
    try:
        st, _, js = post_delivery(r.url, "push", "final", make_payload("push", 1, "power/r1"),
                                  secret=SECRET)
        check(st in (200, 202) and js and "id" in js, f"after the rounds: {st} {js}")
        check(r.stop() == 0, "clean stop")
    finally:
        r.kill()
    print(f"  {ROUNDS} power losses in {time.time() - t0:.1f}s: {posts} posts, "
          f"{len(acked)} acknowledged, all kept; {dropped_rounds} losses dropped unsynced "
          f"writes", flush=True)


def control(tmp, name, env):
    """Runs CONTROL_ROUNDS rounds, each on a new database, with a durability
    defect; the test must notice it (a loss or a database that does not open)
    in at least one. Returns (rounds caught, acknowledged lost, acknowledged)."""
    rng = random.Random(SEED + len(name))
    caught = lost_total = acked_total = 0
    notes = []
    for rnd in range(CONTROL_ROUNDS):
        db = os.path.join(tmp, f"{name}-{rnd}", "db")
        acked = {}
        load_round(os.path.join(tmp, f"{name}-{rnd}"), db, rng, f"{name}{rnd}", env, acked)
        why, stored = survey(db)
        lost = list(acked) if why else lost_of(acked, stored)
        acked_total += len(acked)
        lost_total += len(lost)
        if lost:
            caught += 1
            notes.append(why or f"{len(lost)}/{len(acked)} lost")
    print(f"  {name}: loss caught in {caught}/{CONTROL_ROUNDS} rounds, {lost_total} of "
          f"{acked_total} acknowledged lost ({'; '.join(notes[:3])})", flush=True)
    check(caught > 0, f"{name}: {CONTROL_ROUNDS} power losses and nothing acknowledged was "
                      "lost: the test cannot see this defect")
    return caught


def test_failed_sync_is_sticky(tmp):
    """A sync that fails (EIO, the interposer's 40th) fails the deliveries it
    was to cover, and every later one: Linux may have dropped the pages it
    could not write, so a later sync that succeeds proves nothing about them.
    The receiver answers 503 and /healthz says so until it is restarted; what
    it answered 2xx before the failure survives a power loss."""
    db = os.path.join(tmp, "db")
    e = {"HOOKQ_MAP_SIZE": MAP_SIZE, "LD_PRELOAD": preload(binary("hookq-receiver")),
         "HQ_POWERLOSS_DIR": db, "HQ_POWERLOSS_EXCLUDE": EXCLUDE,
         "HQ_POWERLOSS_FAIL_SYNC": "40"}
    r = start_receiver(tmp, secrets=[SECRET], db=db, env=e)
    acked, codes = {}, []
    try:
        for n in range(120):
            d = f"sticky-{n}"
            st, _, got = post_delivery(r.url, "push", d, body_for(1, 2), secret=SECRET)
            codes.append(st)
            if 200 <= st < 300:
                acked[d] = got["id"]
        hz, _, _ = r.get("/healthz")
    finally:
        r.kill()
    first = next((i for i, c in enumerate(codes) if c == 503), None)
    check(first is not None, f"no 503 after the failed sync: {sorted(set(codes))}")
    check(all(c == 503 for c in codes[first:]),
          f"a 2xx after the failed sync at post {first}: {codes[first:first + 20]}")
    check(first > 0 and all(200 <= c < 300 for c in codes[:first]), f"before: {codes[:first]}")
    check(hz == 503, f"/healthz after the failed sync: {hz}")
    power_loss(db)
    why, stored = survey(db)
    check(why is None, f"after the power loss: {why}")
    lost = lost_of(acked, stored)
    check(not lost, f"{len(lost)} of {len(acked)} acknowledged lost: {lost[:5]}")
    print(f"  sync 40 failed: {first} deliveries answered 2xx before it, all kept; "
          f"{len(codes) - first} answered 503 after it", flush=True)


def test_control_sync_false_loses(tmp):
    control(tmp, "sync_false", {"HOOKQ_SYNC": "false"})


def test_control_skipped_last_sync_loses(tmp):
    control(tmp, "skip_last_sync", {"HQ_POWERLOSS_SKIP_LAST_SYNC": "1"})


def test_control_skipped_data_sync_loses(tmp):
    control(tmp, "skip_data_sync", {"HQ_POWERLOSS_SKIP_DATA_SYNC": "1"})


if __name__ == "__main__":
    run_tests([
        ("test_interposer_drops_unsynced_writes", test_interposer_drops_unsynced_writes),
        ("test_interposer_skip_last_sync_makes_each_sync_one_late",
         test_interposer_skip_last_sync_makes_each_sync_one_late),
        ("test_acknowledged_deliveries_survive_power_loss",
         test_acknowledged_deliveries_survive_power_loss),
        ("test_failed_sync_is_sticky", test_failed_sync_is_sticky),
        ("test_control_sync_false_loses", test_control_sync_false_loses),
        ("test_control_skipped_last_sync_loses", test_control_skipped_last_sync_loses),
        ("test_control_skipped_data_sync_loses", test_control_skipped_data_sync_loses),
    ])
