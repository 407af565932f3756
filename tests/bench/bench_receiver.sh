#!/usr/bin/env bash
# bench_receiver.sh: throughput and latency of hookq-receiver's durable
# acknowledgements against nginx answering `return 202` on the same machine
# (the HTTP ceiling), with wrk on loopback. Prints its figures; not a ctest.
#
#   tests/bench/bench_receiver.sh BUILD_DIR [SECONDS] [PREFILL_EVENTS]
#
# Runs, each SECONDS long (default 10) after a 2 s warm-up, wrk -t2 -c32:
#   nginx        push (~8 KB) and pull_request opened (~24 KB)
#   receiver     the same payloads, durable (HOOKQ_SYNC=true), fresh queue
#   receiver     push again with PREFILL_EVENTS (default 1000000) already
#                queued, loaded by bench_prefill.c (the queue API in batches
#                of 1000, no_sync) over 1000 repositories, ~1 KB payloads;
#                PREFILL_EVENTS=0 skips this run; it alternates with runs
#                on a fresh queue, FULL_ROUNDS times each (default 3), and
#                compares their medians
#   probot       the same payloads into a Probot app (peers/probot_peer.js:
#                createNodeMiddleware, signature verified, no-op handler,
#                keeps nothing)
#   octokit+fsync  the same payloads into @octokit/webhooks verify+receive
#                whose handler appends each delivery to a file and fsyncs it
#                before answering (peers/octokit_fsync_peer.js)
# The Node peers (issue 12) are installed on first use with npm install
# --prefix BUILD_DIR/bench-peers (versions pinned by peers/package.json and
# package-lock.json); PEERS=0 skips them. Before its runs each peer is sent
# one delivery with a bad signature, which must get a 4xx, and one valid
# one, which must get a 2xx. non2xx is wrk's count of other answers.
# Each request has its own X-GitHub-Delivery (bench_receiver.lua) and a
# valid signature. The receiver logs at info to a file, as in production.
#
# Before every measured run the page pool is levelled (LEVEL_MB, default
# 2048; 0 does not): a scratch file of that size is written, synced and
# deleted. These machines are virtual machines whose balloon reports free
# guest memory to the host (virtio-balloon free page reporting), which takes
# it back: the first touch of such a page costs a fault on the host, charged
# to whatever copies into it. A receiver's page cache pages (about 12 KB per
# push delivery) then cost it up to a third of its throughput or nothing,
# by which runs happened to free memory just before (measured: the same
# 1M-queued database 7,000-8,500 push/s cold, 9,600-10,500 right after 2 GB
# were freed). Levelling gives every run, peers included, the same start.
#
# Targets (issue 2): push req/s >= 40% of nginx with p99 <= 10 ms; peak RSS
# (VmHWM) <= 32 MiB; >= 90% of the empty-queue throughput with 1M queued.
# Targets (issue 12): hookq >= 2.5x Probot's req/s on both payloads, >= 5x
# octokit+fsync's on push.
set -euo pipefail

BUILD=$(realpath "${1:?usage: bench_receiver.sh BUILD_DIR [SECONDS] [PREFILL_EVENTS]}")
DUR=${2:-10}
PREFILL=${3:-1000000}
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
RECEIVER="$BUILD/receiver/hookq-receiver"
[ -x "$RECEIVER" ] || { echo "no $RECEIVER (build first)" >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk is not installed" >&2; exit 2; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "nginx is not installed" >&2; exit 2; }
PEERS=${PEERS:-1}
PEERS_SRC="$HERE/peers"
PEERS_DIR="$BUILD/bench-peers"
if [ "$PEERS" != 0 ]; then
    command -v node >/dev/null || { echo "node is not installed (PEERS=0 skips the Node peers)" >&2; exit 2; }
    command -v npm >/dev/null || { echo "npm is not installed (PEERS=0 skips the Node peers)" >&2; exit 2; }
    mkdir -p "$PEERS_DIR"
    # Install on first use, and again when the pinned versions change.
    if [ ! -d "$PEERS_DIR/node_modules" ] ||
        ! cmp -s "$PEERS_SRC/package-lock.json" "$PEERS_DIR/package-lock.json.installed"; then
        cp "$PEERS_SRC/package.json" "$PEERS_SRC/package-lock.json" "$PEERS_DIR/"
        echo "installing the Node peers into $PEERS_DIR" >&2
        npm install --prefix "$PEERS_DIR" --no-audit --no-fund --loglevel=error >&2
        cp "$PEERS_SRC/package-lock.json" "$PEERS_DIR/package-lock.json.installed"
    fi
    # Run the peers from beside their node_modules (ES modules resolve there).
    cp "$PEERS_SRC/serve.js" "$PEERS_SRC/probot_peer.js" "$PEERS_SRC/octokit_fsync_peer.js" "$PEERS_DIR/"
fi

WORK=$(mktemp -d /tmp/hookq-bench.XXXXXX)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    [ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
. "$HERE/bench_lib.sh"

python3 "$HERE/gen_payloads.py" "$WORK/p" >/dev/null

# wrk_run LABEL PORT PATH PAYLOAD EVENT SECONDS -> the RESULT line
wrk_run() {
    BENCH_BODY="$WORK/p/$4.json" BENCH_SIG=$(cat "$WORK/p/$4.sig") BENCH_EVENT=$5 \
        BENCH_PREFIX="$1-$RANDOM$RANDOM" \
        wrk -t2 -c32 -d"${6}s" --latency -s "$HERE/bench_receiver.lua" \
        "http://127.0.0.1:$2$3" >"$WORK/wrk-$1.out" 2>&1
    grep '^RESULT' "$WORK/wrk-$1.out"
}

metric() { # PORT NAME
    curl -s "http://127.0.0.1:$1/metrics" | awk -v n="$2" '$1 == n { print $2 }'
}

hwm_kib() {
    awk '/^VmHWM/ { print $2 }' "/proc/$1/status"
}

# The kernel keeps no peak of anonymous memory alone: sample it.
sample_anon() { # PID OUTFILE
    local max=0 v
    while v=$(awk '/^RssAnon/ { print $2 }' "/proc/$1/status" 2>/dev/null) && [ -n "$v" ]; do
        [ "$v" -gt "$max" ] && max=$v && echo "$max" >"$2"
        sleep 0.1
    done
}

# ---------------------------------------------------------------- nginx --
NPORT=$(free_port)
mkdir -p "$WORK/nginx"
USER_LINE=""
[ "$(id -u)" = 0 ] && USER_LINE="user root;"
cat >"$WORK/nginx/nginx.conf" <<CONF
$USER_LINE
worker_processes auto;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $WORK/nginx/body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;
    client_max_body_size 25m;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$NPORT;
        location / {
            default_type application/json;
            return 202 '{"result":"accepted","id":1}';
        }
    }
}
CONF
"$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' &
PIDS+=($!)
wait_http "$NPORT" /

# ------------------------------------------------------------- receiver --
start_receiver() { # DB MAP_SIZE LOG -> sets RPID RPORT
    RPORT=$(free_port)
    HOOKQ_DB="$1" HOOKQ_MAP_SIZE="$2" HOOKQ_LISTEN="127.0.0.1:$RPORT" \
        HOOKQ_WEBHOOK_SECRET_FILE="$WORK/p/secret" HOOKQ_SYNC=true \
        "$RECEIVER" 2>>"$3" &
    RPID=$!
    PIDS+=("$RPID")
    wait_http "$RPORT" /healthz
    echo 0 >"$WORK/anon-$RPID"
    sample_anon "$RPID" "$WORK/anon-$RPID" &
}

stop_receiver() {
    kill -TERM "$RPID"
    wait "$RPID" || true
}

# level_memory: the page pool levelled (LEVEL_MB, the header says why)
LEVEL_MB=${LEVEL_MB:-2048}
level_memory() {
    [ "$LEVEL_MB" -gt 0 ] || return 0
    dd if=/dev/zero of="$WORK/level" bs=1M count="$LEVEL_MB" conv=fdatasync status=none
    rm -f "$WORK/level"
}

# measure LABEL PORT PATH PAYLOAD EVENT IS_RECEIVER -> prints a row, sets LAST_RPS
measure() {
    level_memory
    wrk_run "$1-warmup" "$2" "$3" "$4" "$5" 2 >/dev/null
    local c0=0 s0=0 n0=0
    if [ "$6" = 1 ]; then
        c0=$(metric "$2" hookq_commits_total)
        s0=$(metric "$2" hookq_commit_batch_size_sum)
        n0=$(metric "$2" hookq_commit_batch_size_count)
    fi
    local r
    r=$(wrk_run "$1" "$2" "$3" "$4" "$5" "$DUR")
    local secs rps
    # A run answered otherwise than 2xx (a full map's 503s) is no rate of
    # acknowledgements: the summary names it.
    [ "$(field "$r" non2xx)" = 0 ] || echo "$1 ($(field "$r" non2xx) non-2xx)" >>"$WORK/non2xx"
    secs=$(field "$r" seconds)
    rps=$(field "$r" req_s)
    LAST_RPS=$rps
    LAST_P50=$(field "$r" p50_ms)
    LAST_P99=$(field "$r" p99_ms)
    local extra="-"
    if [ "$6" = 1 ]; then
        local c1 s1 n1
        c1=$(metric "$2" hookq_commits_total)
        s1=$(metric "$2" hookq_commit_batch_size_sum)
        n1=$(metric "$2" hookq_commit_batch_size_count)
        extra=$(awk -v c0="$c0" -v c1="$c1" -v s0="$s0" -v s1="$s1" -v n0="$n0" -v n1="$n1" \
            -v t="$secs" 'BEGIN { printf "%9.0f %10.1f", (c1 - c0) / t, (s1 - s0) / ((n1 - n0) ? (n1 - n0) : 1) }')
    fi
    printf "%-28s %9s %8s %8s %8s %6s %6s %s\n" "$1" "$rps" "$(field "$r" p50_ms)" \
        "$(field "$r" p99_ms)" "$(field "$r" max_ms)" "$(field "$r" non2xx)" \
        "$(field "$r" sock_errors)" "$extra"
}

echo "hookq receiver benchmark: wrk -t2 -c32, ${DUR}s per run, $(nproc) CPUs, $(date -u +%FT%TZ)"
echo "payloads: push $(stat -c %s "$WORK/p/push.json") B, pull_request $(stat -c %s "$WORK/p/pr.json") B"
echo
printf "%-28s %9s %8s %8s %8s %6s %6s %9s %10s\n" run "req/s" "p50 ms" "p99 ms" "max ms" non2xx sockerr \
    "commits/s" "mean batch"

measure nginx-push "$NPORT" /webhook push push 0
NGINX_PUSH=$LAST_RPS NGINX_PUSH_P50=$LAST_P50 NGINX_PUSH_P99=$LAST_P99
measure nginx-pull_request "$NPORT" /webhook pr pull_request 0
NGINX_PR=$LAST_RPS NGINX_PR_P50=$LAST_P50 NGINX_PR_P99=$LAST_P99

# A map the fresh-queue runs cannot fill: at ~10k deliveries/s the push and
# pull_request runs store about 4 GB (a full map would answer 503).
start_receiver "$WORK/db-empty" 16GiB "$WORK/receiver-empty.log"
measure receiver-push "$RPORT" /webhook push push 1
RECV_PUSH=$LAST_RPS RECV_PUSH_P50=$LAST_P50 RECV_PUSH_P99=$LAST_P99
measure receiver-pull_request "$RPORT" /webhook pr pull_request 1
RECV_PR=$LAST_RPS RECV_PR_P50=$LAST_P50 RECV_PR_P99=$LAST_P99
HWM_EMPTY=$(hwm_kib "$RPID")
ANON_EMPTY=$(cat "$WORK/anon-$RPID")
QUEUED_AFTER=$(metric "$RPORT" hookq_queue_depth)
stop_receiver

# ----------------------------------------------------------- Node peers --
# check_peer PORT PATH: a bad signature must get a 4xx, a valid one a 2xx.
check_peer() {
    local bad good
    bad=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
        -H 'X-GitHub-Event: push' -H "X-GitHub-Delivery: check-bad-$RANDOM" \
        -H 'X-Hub-Signature-256: sha256=0000000000000000000000000000000000000000000000000000000000000000' \
        --data-binary @"$WORK/p/push.json" "http://127.0.0.1:$1$2")
    good=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
        -H 'X-GitHub-Event: push' -H "X-GitHub-Delivery: check-good-$RANDOM" \
        -H "X-Hub-Signature-256: $(cat "$WORK/p/push.sig")" \
        --data-binary @"$WORK/p/push.json" "http://127.0.0.1:$1$2")
    case "$bad" in 4??) ;; *) echo "peer on port $1 answered $bad to a bad signature" >&2; exit 1 ;; esac
    case "$good" in 2??) ;; *) echo "peer on port $1 answered $good to a valid delivery" >&2; exit 1 ;; esac
}

start_peer() { # LOG SCRIPT ARGS... -> sets PPID_ PPORT
    PPORT=$(free_port)
    local log=$1 script=$2
    shift 2
    node "$PEERS_DIR/$script" "$PPORT" "$WORK/p/secret" /webhook "$@" >>"$log" 2>&1 &
    PPID_=$!
    PIDS+=("$PPID_")
    wait_http "$PPORT" /healthz
    check_peer "$PPORT" /webhook
}

stop_peer() {
    kill -TERM "$PPID_"
    wait "$PPID_" || true
}

PROBOT_PUSH=0 PROBOT_PR=0 OCTO_PUSH=0 OCTO_PR=0
if [ "$PEERS" != 0 ]; then
    start_peer "$WORK/probot.log" probot_peer.js
    measure probot-push "$PPORT" /webhook push push 0
    PROBOT_PUSH=$LAST_RPS PROBOT_PUSH_P50=$LAST_P50 PROBOT_PUSH_P99=$LAST_P99
    measure probot-pull_request "$PPORT" /webhook pr pull_request 0
    PROBOT_PR=$LAST_RPS PROBOT_PR_P50=$LAST_P50 PROBOT_PR_P99=$LAST_P99
    stop_peer

    start_peer "$WORK/octokit.log" octokit_fsync_peer.js "$WORK/octokit-deliveries.jsonl"
    measure octokit+fsync-push "$PPORT" /webhook push push 0
    OCTO_PUSH=$LAST_RPS OCTO_PUSH_P50=$LAST_P50 OCTO_PUSH_P99=$LAST_P99
    measure octokit+fsync-pull_request "$PPORT" /webhook pr pull_request 0
    OCTO_PR=$LAST_RPS OCTO_PR_P50=$LAST_P50 OCTO_PR_P99=$LAST_P99
    stop_peer
    OCTO_LINES=$(wc -l <"$WORK/octokit-deliveries.jsonl")
fi

# ---------------------------------------------------- 1M events queued --
# PREFILL_EVENTS=0 skips this phase.
RECV_FULL=0 HWM_FULL=0 ANON_FULL=0 DEPTH=0 t0=0 t1=0
if [ "$PREFILL" != 0 ]; then
    [ -x "$BUILD/tests/bench/bench_prefill" ] || { echo "no bench_prefill (build first)" >&2; exit 2; }
    t0=$(date +%s.%N)
    "$BUILD/tests/bench/bench_prefill" "$WORK/db-full" "$PREFILL" 1000 $((8 << 30))
    # The loader does not sync (no_sync): flush its gigabyte now, as a queue
    # that filled up in production synced as it went. Left dirty, the
    # receiver's first fdatasyncs paid for it inside the measurement.
    sync "$WORK/db-full/data.mdb"
    t1=$(date +%s.%N)
    # The receiver on the full queue alternates with receivers on new,
    # empty queues (one run of each would compare two minutes of this
    # machine, whose rate moves by a third from one to the next): medians.
    # Its map has room for all the rounds: with 8 GiB, the third round at
    # ~20k push/s filled it and was answered 503.
    start_receiver "$WORK/db-full" 24GiB "$WORK/receiver-full.log"
    FPID=$RPID FPORT=$RPORT
    DEPTH=$(metric "$RPORT" hookq_queue_depth)
    : >"$WORK/rps-fresh" >"$WORK/rps-full"
    for round in $(seq 1 "${FULL_ROUNDS:-3}"); do
        start_receiver "$WORK/db-fresh-$round" 16GiB "$WORK/receiver-fresh.log"
        measure "receiver-push-empty-$round" "$RPORT" /webhook push push 1
        echo "$LAST_RPS" >>"$WORK/rps-fresh"
        stop_receiver
        rm -rf "$WORK/db-fresh-$round"
        measure "receiver-push-${PREFILL}-queued-$round" "$FPORT" /webhook push push 1
        echo "$LAST_RPS" >>"$WORK/rps-full"
    done
    RPID=$FPID
    RECV_FULL=$(median <"$WORK/rps-full")
    RECV_FRESH2=$(median <"$WORK/rps-fresh")
    HWM_FULL=$(hwm_kib "$RPID")
    ANON_FULL=$(cat "$WORK/anon-$RPID")
    stop_receiver
fi

echo
awk -v np="$NGINX_PUSH" -v npr="$NGINX_PR" -v rp="$RECV_PUSH" -v rpr="$RECV_PR" \
    -v rf="$RECV_FULL" -v rf2="${RECV_FRESH2:-0}" -v he="$HWM_EMPTY" -v hf="$HWM_FULL" -v depth="$DEPTH" \
    -v ae="$ANON_EMPTY" -v af="$ANON_FULL" -v pre="$PREFILL" -v q="$QUEUED_AFTER" -v lt="$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')" '
BEGIN {
    printf "receiver/nginx push:          %5.1f%%   (target >= 40%%)\n", 100 * rp / np
    printf "receiver/nginx pull_request:  %5.1f%%\n", 100 * rpr / npr
    printf "peak RSS (VmHWM), fresh queue: %6.1f MiB (target <= 32 MiB; %d events queued by then)\n", he / 1024, q
    printf "  of which anonymous (sampled peak): %6.1f MiB; the rest is LMDB file pages mapped\n", ae / 1024
    if (pre == 0) { print "prefill phase skipped (PREFILL_EVENTS=0)"; exit }
    printf "peak RSS (VmHWM), %d queued: %6.1f MiB, anonymous %6.1f MiB\n", depth, hf / 1024, af / 1024
    printf "throughput with %d queued vs an empty queue, medians of the alternating runs: %.1f vs %.1f = %5.1f%% (target >= 90%%); prefill took %.1f s\n", depth, rf, rf2, 100 * rf / rf2, lt
}'

# ------------------------------------------------------- side by side --
echo
printf "%-14s %28s   %28s\n" "" "push" "pull_request"
printf "%-14s %9s %8s %8s   %9s %8s %8s\n" peer "req/s" "p50 ms" "p99 ms" "req/s" "p50 ms" "p99 ms"
row() { # NAME PUSH_RPS PUSH_P50 PUSH_P99 PR_RPS PR_P50 PR_P99
    printf "%-14s %9s %8s %8s   %9s %8s %8s\n" "$@"
}
row nginx "$NGINX_PUSH" "$NGINX_PUSH_P50" "$NGINX_PUSH_P99" "$NGINX_PR" "$NGINX_PR_P50" "$NGINX_PR_P99"
row hookq "$RECV_PUSH" "$RECV_PUSH_P50" "$RECV_PUSH_P99" "$RECV_PR" "$RECV_PR_P50" "$RECV_PR_P99"
if [ "$PEERS" != 0 ]; then
    row probot "$PROBOT_PUSH" "$PROBOT_PUSH_P50" "$PROBOT_PUSH_P99" "$PROBOT_PR" "$PROBOT_PR_P50" "$PROBOT_PR_P99"
    row octokit+fsync "$OCTO_PUSH" "$OCTO_PUSH_P50" "$OCTO_PUSH_P99" "$OCTO_PR" "$OCTO_PR_P50" "$OCTO_PR_P99"
fi
echo
awk -v np="$NGINX_PUSH" -v npr="$NGINX_PR" -v rp="$RECV_PUSH" -v rpr="$RECV_PR" \
    -v pp="$PROBOT_PUSH" -v ppr="$PROBOT_PR" -v op="$OCTO_PUSH" -v opr="$OCTO_PR" -v peers="$PEERS" '
function ratio(a, b) { return b > 0 ? sprintf("%5.2fx", a / b) : "   n/a" }
BEGIN {
    printf "hookq/nginx          push %5.1f%% (target >= 40%%)   pull_request %5.1f%%\n", 100 * rp / np, 100 * rpr / npr
    if (peers != 0) {
        printf "hookq/probot         push %s (target >= 2.5x)  pull_request %s (target >= 2.5x)\n", ratio(rp, pp), ratio(rpr, ppr)
        printf "hookq/octokit+fsync  push %s (target >= 5x)    pull_request %s\n", ratio(rp, op), ratio(rpr, opr)
    }
}'
if [ "$PEERS" != 0 ]; then
    echo "octokit+fsync wrote and fsynced $OCTO_LINES deliveries (warm-ups, runs and the check)"
fi
if [ -s "$WORK/non2xx" ]; then
    echo "WARNING: runs with answers other than 2xx, whose req/s counts them:" $(cat "$WORK/non2xx")
fi
echo "(logs and wrk output in $WORK when KEEP=1)"
