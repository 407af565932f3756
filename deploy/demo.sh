#!/usr/bin/env bash
# The demo command of README.md: the whole hookq flow on loopback, in some
# ten seconds once built.
#
#   ./deploy/demo.sh [--keep] [--checks] [--postgres]
#
# Installs what is missing (deploy/install-deps.sh), builds into build/,
# generates a GitHub App key and a webhook secret, starts fakehub (the
# stand-in GitHub API; it refuses octo/broken's statuses with 422),
# hookq-receiver and hookq-worker, sends a burst of signed deliveries, prints
# the commit statuses "GitHub" received, shows the queue and the dead
# letters, replays them once the cause is fixed, takes the receiver down
# while "GitHub" sends pushes and lets catch-up bring them back from the
# App's delivery log, and shuts everything down.
#
# Environment:
#   HOOKQ_BUILD=DIR          build directory (default build/); when DIR already
#                            holds the binaries they are used as they are
#   HOOKQ_DEMO_SKIP_DEPS=1   do not run deploy/install-deps.sh
#   HOOKQ_DEMO_SUMMARY=FILE  also write a JSON summary there (for tests)
#   TMPDIR                   where the work directory is made
# --keep leaves the work directory (keys, database, logs, fakehub's record).
# It is kept on failure too. Exit status 0 when every step did what it should.
# --checks runs it with HOOKQ_REPORT=checks: check runs instead of statuses
# (fakehub refuses octo/broken's check runs with 422); it shows the runs, the
# queue and the dead letters, and shuts down.
# --postgres runs the same demo (with or without --checks) on PostgreSQL
# instead of LMDB: a private cluster (tests/tools/pg_cluster.sh, in
# /tmp/hookq-demo-pg.*, on a free loopback port) with one database,
# hookq_demo, in HOOKQ_DB of the receiver, the worker and hookqctl; the
# cluster is removed at the end, on failure and interrupt too (its server log
# goes into a kept work directory). It needs a PostgreSQL server (Debian's
# postgresql, which install-deps.sh installs): without one it says so and
# exits 2.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi # run as "sh demo.sh"
set -eu
set -o pipefail

usage() { sed -n '2,34s/^# \{0,1\}//p' "$0"; }
KEEP=0
REPORT=statuses
BACKEND=lmdb
for arg in "$@"; do
    case $arg in
    --keep) KEEP=1 ;;
    --checks) REPORT=checks ;;
    --postgres) BACKEND=postgresql ;;
    -h | --help) usage; exit 0 ;;
    *) echo "demo: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
    esac
done

cd "$(dirname "$0")/.."
SRC=$(pwd)
BUILD=${HOOKQ_BUILD:-build}
BUILD_GIVEN=${HOOKQ_BUILD:+1}
case $BUILD in /*) ;; *) BUILD=$SRC/$BUILD ;; esac
SKIP_DEPS=${HOOKQ_DEMO_SKIP_DEPS:-0}
SUMMARY=${HOOKQ_DEMO_SUMMARY:-}
case $SUMMARY in '' | /*) ;; *) SUMMARY=$PWD/$SUMMARY ;; esac
# The services read HOOKQ_* from the environment: they get only what the
# demo sets below, not whatever the caller's shell holds.
while read -r v; do unset "$v"; done < <(compgen -e | grep '^HOOKQ_' || true)
# Likewise libpq's PG* variables (PGSSLMODE, PGSERVICE, ...) with --postgres:
# the private cluster takes the URI alone.
if [ "$BACKEND" = postgresql ]; then
    while read -r v; do unset "$v"; done < <(compgen -e | grep '^PG' || true)
fi

now_ms() { local t=${EPOCHREALTIME//[.,]/}; echo $((t / 1000)); }
T_START=$(now_ms)
secs_since() { local d=$(($(now_ms) - $1)); printf '%d.%d' $((d / 1000)) $((d % 1000 / 100)); }

if [ -t 1 ]; then B=$'\e[1m' N=$'\e[0m'; else B='' N=''; fi
STEP="start"
section() { STEP=$1; printf '\n%s== %s ==%s\n' "$B" "$1" "$N"; }
indent() { sed 's/^/  /'; }

W=$(mktemp -d "${TMPDIR:-/tmp}/hookq-demo.XXXXXX")
DB=$W/db
QENV=(HOOKQ_DB="$DB" HOOKQ_MAP_SIZE=64MiB) # the queue's settings of every process
PG_DIR=""         # the private PostgreSQL cluster of --postgres, while it exists
STARTED=""        # every PID this script started, for the exit trap
DONE=0
HUB_PID="" RCV_PID="" WRK_PID=""

FAILED=""
die() {
    FAILED="step '$STEP': $*"
    exit 1
}

# PIDs are forgotten once reaped: a recycled PID is never signalled.
track() { STARTED="$STARTED $2"; echo "$1 $2" >>"$W/started.txt"; }
untrack() { STARTED=$(echo "$STARTED" | tr ' ' '\n' | grep -vx "$1" | tr '\n' ' ' || true); }

# Stops the private cluster (pg_ctl -m immediate) and removes its directory.
pg_down() {
    [ -n "$PG_DIR" ] || return 0
    "$SRC/tests/tools/pg_cluster.sh" stop "$PG_DIR/cluster" >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
    PG_DIR=""
}

on_exit() {
    local rc=$? pid left
    trap - EXIT INT TERM
    if [ "$DONE" != 1 ]; then
        [ "$rc" != 0 ] || rc=1
        [ -n "$FAILED" ] || FAILED="step '$STEP': exit status $rc"
        echo "demo: FAILED in $FAILED" >&2
        for f in build.log fakehub.log receiver.log worker.log; do
            [ -s "$W/$f" ] || continue
            echo "--- last lines of $f" >&2
            tail -n 15 "$W/$f" >&2
        done
        # Stop what we started, by PID: SIGTERM, then SIGKILL after 5 s.
        for pid in $STARTED; do kill -TERM "$pid" 2>/dev/null || true; done
        for _ in $(seq 50); do
            left=""
            for pid in $STARTED; do kill -0 "$pid" 2>/dev/null && left="$left $pid"; done
            [ -n "$left" ] || break
            sleep 0.1
        done
        for pid in $STARTED; do
            kill -KILL "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        done
        if [ -n "$PG_DIR" ] && [ -s "$PG_DIR/cluster/server.log" ]; then
            cp "$PG_DIR/cluster/server.log" "$W/postgresql.log" 2>/dev/null || true
            echo "--- last lines of postgresql.log" >&2
            tail -n 15 "$W/postgresql.log" >&2
        fi
        pg_down
        if [ -n "$SUMMARY" ]; then
            python3 "$SRC/deploy/demo/report.py" summary --work "$W" --out "$SUMMARY" \
                --failed "$FAILED" >/dev/null 2>&1 || true
        fi
        echo "demo: work directory kept: $W" >&2
    elif [ "$KEEP" = 1 ]; then
        pg_down
        echo "work directory kept: $W"
    else
        pg_down
        rm -rf "$W"
    fi
    exit "$rc"
}
interrupted() { FAILED="step '$STEP': interrupted by SIG$1"; exit "$2"; }
trap on_exit EXIT
trap 'interrupted INT 130' INT
trap 'interrupted TERM 143' TERM

# ------------------------------------------------------------ processes --

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_http PID URL: 0 once URL answers 2xx, 1 if PID exited, 2 after 15 s.
wait_http() {
    local pid=$1 url=$2 t0
    t0=$(now_ms)
    while :; do
        kill -0 "$pid" 2>/dev/null || return 1
        if curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; then
            kill -0 "$pid" 2>/dev/null || return 1
            return 0
        fi
        [ $(($(now_ms) - t0)) -lt 15000 ] || return 2
        sleep 0.05
    done
}

# stop NAME PID: SIGTERM, wait (SIGKILL after 30 s), record the exit status.
stop() {
    local name=$1 pid=$2 rc=0 t0
    kill -TERM "$pid" 2>/dev/null || true
    t0=$(now_ms)
    while kill -0 "$pid" 2>/dev/null; do
        if [ $(($(now_ms) - t0)) -gt 30000 ]; then
            echo "demo: $name (pid $pid) ignored SIGTERM for 30 s; killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
        sleep 0.05
    done
    wait "$pid" || rc=$?
    untrack "$pid"
    echo "$name $pid $rc" >>"$W/services.txt"
    printf '  %-15s pid %-7s exit %s\n' "$name" "$pid" "$rc"
    [ "$rc" = 0 ] || die "$name exited $rc on SIGTERM"
}

# start_fakehub [PORT] [extra flags...]: HUB_PID and HUB_PORT; returns 1
# when it could not bind PORT.
start_fakehub() {
    local listen=127.0.0.1:${1:-0} t0
    shift || true
    : >"$W/fakehub.out"
    "$FAKEHUB" --listen "$listen" --record "$W/fakehub.jsonl" \
        --app-id "$APP_ID" --app-public-key "$W/app.pub.pem" "$@" \
        >"$W/fakehub.out" 2>>"$W/fakehub.log" </dev/null &
    HUB_PID=$!
    track fakehub "$HUB_PID"
    t0=$(now_ms)
    until grep -q '^fakehub listening on ' "$W/fakehub.out"; do
        if ! kill -0 "$HUB_PID" 2>/dev/null; then
            wait "$HUB_PID" || true
            untrack "$HUB_PID"
            return 1
        fi
        [ $(($(now_ms) - t0)) -lt 15000 ] || die "fakehub did not start in 15 s"
        sleep 0.02
    done
    HUB_PORT=$(sed -n 's/^fakehub listening on .*:\([0-9]*\)$/\1/p' "$W/fakehub.out")
}

# start_service NAME LOG ADDR_VAR HEALTH_PATH ENV...: starts NAME on a free
# loopback port (ADDR_VAR=127.0.0.1:PORT), waits for its /healthz, and sets
# SVC_PID and SVC_PORT. A port taken between choosing and binding is
# retried with another.
start_service() {
    local name=$1 log=$2 var=$3 bin port rc
    shift 3
    bin=$(binary "$name")
    for _ in 1 2 3 4 5; do
        port=$(free_port)
        env "$var=127.0.0.1:$port" "$@" "$bin" >>"$W/$log" 2>&1 </dev/null &
        SVC_PID=$!
        track "$name" "$SVC_PID"
        rc=0
        wait_http "$SVC_PID" "http://127.0.0.1:$port/healthz" || rc=$?
        if [ "$rc" = 0 ]; then
            SVC_PORT=$port
            return 0
        fi
        kill -TERM "$SVC_PID" 2>/dev/null || true
        wait "$SVC_PID" 2>/dev/null || true
        untrack "$SVC_PID"
        if [ "$rc" = 2 ] || ! tail -n 3 "$W/$log" | grep -qi 'in use'; then
            die "$name did not start (see $log below)"
        fi
        echo "  ($name: port $port was taken meanwhile; trying another)"
    done
    die "$name: no free port after 5 tries"
}

binary() {
    case $1 in
    hookq-receiver) echo "$BUILD/receiver/hookq-receiver" ;;
    hookq-worker | hookqctl) echo "$BUILD/worker/$1" ;;
    fakehub) echo "$BUILD/tests/fakehub/fakehub" ;;
    esac
}

start_receiver() {
    start_service hookq-receiver receiver.log HOOKQ_LISTEN \
        "${QENV[@]}" HOOKQ_WEBHOOK_SECRET_FILE="$W/webhook-secret" \
        HOOKQ_REPORT="$REPORT" HOOKQ_LOG_FORMAT=text
    RCV_PID=$SVC_PID RCV_PORT=$SVC_PORT
}

# The check command line is split by the worker like a shell would, without
# a shell: quote the path.
CHECK=$SRC/deploy/demo/check.sh
CHECK_Q=${CHECK//\\/\\\\}
CHECK_Q=${CHECK_Q//\"/\\\"}
start_worker() {
    start_service hookq-worker worker.log HOOKQ_METRICS_LISTEN \
        "${QENV[@]}" HOOKQ_GITHUB_API="http://127.0.0.1:$HUB_PORT" \
        HOOKQ_APP_ID="$APP_ID" HOOKQ_APP_KEY_FILE="$W/app.key.pem" \
        HOOKQ_CHECK_CMD="sh \"$CHECK_Q\"" HOOKQ_CHECK_TIMEOUT=30s \
        HOOKQ_TARGET_URL='https://ci.example.com/{repo}/commit/{sha}' \
        HOOKQ_WORKERS=4 HOOKQ_BACKOFF_BASE=200ms HOOKQ_BACKOFF_MAX=2s \
        HOOKQ_CONNECT_TIMEOUT=2s HOOKQ_HTTP_TIMEOUT=10s HOOKQ_SHUTDOWN_GRACE=5s \
        HOOKQ_REPORT="$REPORT" HOOKQ_LOG_FORMAT=text
    WRK_PID=$SVC_PID WRK_PORT=$SVC_PORT
}

ctl() { "$(binary hookqctl)" --db "$DB" "$@"; }

# wait_drained [dead0]: until nothing is queued (and, with dead0, nothing is
# dead either), 60 s at most.
wait_drained() {
    local t0 q d
    t0=$(now_ms)
    while :; do
        ctl stats --json >"$W/stats.json" || die "hookqctl stats failed"
        q=$(jq -r .queued "$W/stats.json")
        d=$(jq -r .dead "$W/stats.json")
        if [ "$q" = 0 ] && { [ "${1:-}" != dead0 ] || [ "$d" = 0 ]; }; then
            echo "  queue drained in $(secs_since "$t0") s (queued $q, dead $d)"
            return 0
        fi
        kill -0 "$WRK_PID" 2>/dev/null || die "hookq-worker died"
        [ $(($(now_ms) - t0)) -lt 60000 ] || die "queue not drained after 60 s: $(cat "$W/stats.json")"
        sleep 0.2
    done
}

# ------------------------------------------------------------------ steps --

section "1. dependencies and build"
if [ "$SKIP_DEPS" = 1 ]; then
    echo "  skipping deploy/install-deps.sh (HOOKQ_DEMO_SKIP_DEPS=1)"
elif ! ./deploy/install-deps.sh 2>&1 | indent; then
    echo "  install-deps failed; going on if what the demo needs is there"
fi
need="python3 openssl jq curl"
for b in hookq-receiver hookq-worker hookqctl fakehub; do
    [ -x "$(binary $b)" ] || { BUILD_GIVEN=""; break; }
done
[ -n "$BUILD_GIVEN" ] || need="$need cmake cc make pkg-config"
missing=""
for c in $need; do command -v "$c" >/dev/null 2>&1 || missing="$missing $c"; done
[ -z "$missing" ] || die "missing commands:$missing (run deploy/install-deps.sh as root)"

t0=$(now_ms)
if [ -n "$BUILD_GIVEN" ]; then
    echo "  using the binaries in $BUILD"
else
    if [ ! -f "$BUILD/CMakeCache.txt" ]; then
        echo "  configuring $BUILD"
        cmake -S "$SRC" -B "$BUILD" >>"$W/build.log" 2>&1 || die "cmake configure failed"
    fi
    echo "  building in $BUILD (log: $W/build.log)"
    cmake --build "$BUILD" -j"$(nproc)" >>"$W/build.log" 2>&1 || die "build failed"
    rm -f "$W/build.log"
    echo "  built in $(secs_since "$t0") s"
fi
for b in hookq-receiver hookq-worker hookqctl fakehub; do
    [ -x "$(binary $b)" ] || die "$b is not in $BUILD"
done
FAKEHUB=$(binary fakehub)
if [ "$BACKEND" = postgresql ]; then
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ] || [ ! -x "$PG_BIN/pg_ctl" ] ||
        [ ! -x "$PG_BIN/psql" ]; then
        echo "demo: --postgres needs a PostgreSQL server (initdb, pg_ctl and psql in" \
            "/usr/lib/postgresql/*/bin), and there is none: install Debian's postgresql" \
            "(deploy/install-deps.sh does), or run the demo without --postgres" >&2
        DONE=1 # nothing ran: no failure report, the work directory goes
        exit 2
    fi
fi
T_RUN=$(now_ms)

section "2. a GitHub App key and a webhook secret"
APP_ID=4242
openssl genrsa -out "$W/app.key.pem" 2048 2>/dev/null || die "openssl genrsa failed"
openssl rsa -in "$W/app.key.pem" -pubout -out "$W/app.pub.pem" 2>/dev/null || die "openssl rsa failed"
chmod 600 "$W/app.key.pem"
(umask 077 && openssl rand -hex 32 >"$W/webhook-secret") || die "openssl rand failed"
echo "  work directory  $W"
echo "  App id $APP_ID, private key app.key.pem (RSA 2048); fakehub gets the public half"
echo "  webhook secret  32 random bytes (64 hex digits) in webhook-secret; the receiver and the sender share it"

section "3. fakehub, hookq-receiver and hookq-worker on loopback"
if [ "$BACKEND" = postgresql ]; then
    # In /tmp, not in TMPDIR: the server's socket path has a length limit, and
    # as root the cluster runs as an unprivileged user that must reach it.
    PG_DIR=$(mktemp -d /tmp/hookq-demo-pg.XXXXXX) || die "cannot make the cluster's directory"
    chmod 711 "$PG_DIR"
    "$SRC/tests/tools/pg_cluster.sh" start "$PG_DIR/cluster" >"$W/pg_cluster.log" 2>&1 &&
        [ -s "$PG_DIR/cluster/uri" ] || {
        cat "$W/pg_cluster.log" "$PG_DIR/cluster/initdb.log" >&2 2>/dev/null || true
        die "the PostgreSQL cluster did not start"
    }
    PG_URI=$(cat "$PG_DIR/cluster/uri")
    "$PG_BIN/psql" -q -X -v ON_ERROR_STOP=1 -d "$PG_URI/postgres" \
        -c 'CREATE DATABASE hookq_demo' >>"$W/pg_cluster.log" 2>&1 ||
        die "creating the database failed: $(tail -n 1 "$W/pg_cluster.log")"
    DB=$PG_URI/hookq_demo
    QENV=(HOOKQ_DB="$DB")
    printf '  %-15s %-11s %s  (a private cluster in %s)\n' postgresql \
        "$("$PG_BIN/postgres" --version | awk '{print $3}')" "$DB" "$PG_DIR/cluster"
fi
REFUSE=(--status-code-for octo/broken=422)
[ "$REPORT" = statuses ] || REFUSE=(--check-code-for octo/broken=422)
start_fakehub 0 "${REFUSE[@]}" || die "fakehub did not start"
printf '  %-15s pid %-7s http://127.0.0.1:%s  (the GitHub API; answers 422 for octo/broken)\n' \
    fakehub "$HUB_PID" "$HUB_PORT"
start_receiver
printf '  %-15s pid %-7s http://127.0.0.1:%s/webhook  (queue in %s)\n' \
    hookq-receiver "$RCV_PID" "$RCV_PORT" "${DB#"$W"/}"
start_worker
printf '  %-15s pid %-7s http://127.0.0.1:%s/metrics  (check: deploy/demo/check.sh)\n' \
    hookq-worker "$WRK_PID" "$WRK_PORT"

section "4. a burst of signed deliveries"
echo "  (status, result, repository, event, commit, message; repositories in parallel)"
python3 "$SRC/deploy/demo/send.py" --url "http://127.0.0.1:$RCV_PORT/webhook" \
    --secret-file "$W/webhook-secret" --out "$W/sent.jsonl" || die "a delivery got an unexpected answer"

if [ "$REPORT" = checks ]; then
    section "5. the check runs GitHub received, per repository, in order"
    wait_drained
    curl -fsS "http://127.0.0.1:$HUB_PORT/_fakehub/check-runs" >"$W/check-runs.json" ||
        die "fakehub's check runs could not be read"
    python3 "$SRC/deploy/demo/report.py" checkruns --runs "$W/check-runs.json" \
        --sent "$W/sent.jsonl" --broken octo/broken || die "the check runs are not what they should be"
else
    section "5. the commit statuses GitHub received, per repository, in order"
    wait_drained
    cp "$W/fakehub.jsonl" "$W/fakehub-before-replay.jsonl"
    python3 "$SRC/deploy/demo/report.py" statuses --record "$W/fakehub.jsonl" --sent "$W/sent.jsonl"
fi

section "6. the queue and its dead letters"
ctl stats --json >"$W/stats-before-replay.json"
echo "\$ hookqctl stats"
ctl stats | indent
echo "\$ hookqctl dlq list"
ctl dlq list | indent
ctl dlq list --json >"$W/dlq-before-replay.jsonl"
[ -s "$W/dlq-before-replay.jsonl" ] || die "no dead letter: octo/broken should have been dead-lettered"
DEAD_ID=$(head -n 1 "$W/dlq-before-replay.jsonl" | jq -r .id)
echo "\$ hookqctl dlq show $DEAD_ID"
ctl dlq show "$DEAD_ID" | indent

if [ "$REPORT" = checks ]; then
    section "7. shutdown"
    stop hookq-worker "$WRK_PID"
    stop hookq-receiver "$RCV_PID"
    stop fakehub "$HUB_PID"
    DONE=1
    echo
    echo "hookq demo (check runs): ok: $(jq '.check_runs | length' "$W/check-runs.json") check runs," \
        "one per accepted delivery; octo/broken dead-lettered; all services exited 0"
    exit 0
fi

section "7. fix the cause, replay the dead letters"
echo "  restarting fakehub on port $HUB_PORT without the 422 rule"
OLD_HUB=$HUB_PID
stop fakehub "$OLD_HUB"
# From now on fakehub also delivers webhooks to the receiver, as GitHub does (step 8).
HUB_DELIVERY=(--deliver-to "http://127.0.0.1:$RCV_PORT/webhook"
    --webhook-secret-file "$W/webhook-secret" --hook-id 1)
if ! start_fakehub "$HUB_PORT" "${HUB_DELIVERY[@]}"; then
    echo "  (port $HUB_PORT is taken: a new fakehub on another port, and a worker pointed at it)"
    start_fakehub 0 "${HUB_DELIVERY[@]}" || die "fakehub did not start again"
    stop hookq-worker "$WRK_PID"
    start_worker
    printf '  %-15s pid %-7s http://127.0.0.1:%s/metrics\n' hookq-worker "$WRK_PID" "$WRK_PORT"
fi
printf '  %-15s pid %-7s http://127.0.0.1:%s\n' fakehub "$HUB_PID" "$HUB_PORT"
echo "\$ hookqctl dlq replay --all"
ctl dlq replay --all | indent || die "hookqctl dlq replay failed"
wait_drained dead0
ctl stats --json >"$W/stats-after-replay.json"
for repo in $(jq -r .repo "$W/dlq-before-replay.jsonl" | sort -u); do
    python3 "$SRC/deploy/demo/report.py" statuses --record "$W/fakehub.jsonl" \
        --sent "$W/sent.jsonl" --repo "$repo"
done
echo "\$ hookqctl dlq list"
ctl dlq list | indent
echo "  dead letters now: $(jq -r .dead "$W/stats-after-replay.json")"

section "8. the receiver goes down; catch-up brings back what GitHub could not deliver"
echo "  stopping hookq-receiver: GitHub's deliveries now fail, and GitHub never retries them"
stop hookq-receiver "$RCV_PID"
python3 "$SRC/deploy/demo/outage.py" --hub "http://127.0.0.1:$HUB_PORT" \
    --out "$W/sent-outage.jsonl" || die "fakehub did not take the outage's pushes"
start_receiver
printf '  %-15s pid %-7s http://127.0.0.1:%s/webhook  (back)\n' hookq-receiver "$RCV_PID" "$RCV_PORT"
catchup() {
    env HOOKQ_APP_ID="$APP_ID" HOOKQ_APP_KEY_FILE="$W/app.key.pem" \
        HOOKQ_GITHUB_API="http://127.0.0.1:$HUB_PORT" HOOKQ_LOG_LEVEL=warn \
        "$(binary hookqctl)" --db "$DB" catch-up "$@"
}
echo "\$ hookqctl catch-up --dry-run"
catchup --dry-run | indent || die "hookqctl catch-up --dry-run failed"
echo "\$ hookqctl catch-up"
catchup --json >"$W/catchup.jsonl" || die "hookqctl catch-up failed"
jq -r '"  \(.guid)  \(.event)  repo \(.repo_id)  \(.result)"' "$W/catchup.jsonl"
wait_drained
python3 "$SRC/deploy/demo/report.py" statuses --record "$W/fakehub.jsonl" \
    --sent "$W/sent-outage.jsonl"

section "9. shutdown"
stop hookq-worker "$WRK_PID"
stop hookq-receiver "$RCV_PID"
stop fakehub "$HUB_PID"
printf '{"total_seconds": %s, "run_seconds": %s}\n' \
    "$(secs_since "$T_START")" "$(secs_since "$T_RUN")" >"$W/timing.json"
report_rc=0
python3 "$SRC/deploy/demo/report.py" summary --work "$W" --out "$W/summary.json" || report_rc=$?
[ -z "$SUMMARY" ] || cp "$W/summary.json" "$SUMMARY"
[ "$report_rc" = 0 ] || die "the outcome is not what it should be (problems above)"

DONE=1
jq -r '"\nhookq demo: ok: \(.deliveries.sent) deliveries (\(.deliveries.accepted) accepted) to \(.repositories | length) repositories; " +
  "\([.final[][] | select(.state == "success")] | length) success and " +
  "\([.final[][] | select(.state == "failure")] | length) failure statuses; " +
  "\(.dead_letters_before_replay | length) dead letters replayed; " +
  "\(.catch_up.sent | length) missed deliveries caught up; all services exited 0; " +
  "\(.timing.run_seconds) s (\(.timing.total_seconds) s in all)"' "$W/summary.json"
