#!/bin/sh
# bench_client.sh BUILD_DIR [SECONDS] [THREAD COUNTS...]
#
# Statuses per second through hookq's GitHub client against fakehub with
# 20 ms latency, pacing off, 8 installations, for 1..64 threads. Builds
# nothing: expects BUILD_DIR/tests/bench/bench_client and
# BUILD_DIR/tests/fakehub/fakehub. One fresh fakehub per thread count, so its
# record counts the token requests of that run (cold cache each time).
set -eu
build=${1:?usage: bench_client.sh BUILD_DIR [SECONDS] [THREADS...]}
secs=${2:-5}
shift $(( $# >= 2 ? 2 : 1 ))
counts=${*:-1 2 4 8 16 32 64}
latency_ms=20
insts=8
bench=$build/tests/bench/bench_client
fakehub=$build/tests/fakehub/fakehub
for f in "$bench" "$fakehub"; do
    [ -x "$f" ] || { echo "bench_client.sh: $f not built" >&2; exit 2; }
done
dir=$(mktemp -d /tmp/hookq-bench.XXXXXX)
fh_pid=
cleanup() {
    [ -n "$fh_pid" ] && kill "$fh_pid" 2>/dev/null && wait "$fh_pid" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT INT TERM
openssl genrsa -out "$dir/key.pem" 2048 2>/dev/null
openssl rsa -in "$dir/key.pem" -pubout -out "$dir/pub.pem" 2>/dev/null

printf '%-8s %12s %10s %7s %7s %11s %9s\n' threads statuses/s ideal ratio tokens tokens/10k failures
for n in $counts; do
    rm -f "$dir/port" "$dir/record.jsonl"
    "$fakehub" --listen 127.0.0.1:0 --port-file "$dir/port" --record "$dir/record.jsonl" \
        --app-id 4242 --app-public-key "$dir/pub.pem" --latency-ms $latency_ms \
        >"$dir/fakehub.log" 2>&1 &
    fh_pid=$!
    i=0
    while [ ! -s "$dir/port" ]; do
        i=$((i + 1)); [ $i -lt 500 ] || { echo "fakehub did not start" >&2; exit 1; }
        sleep 0.01
    done
    port=$(cat "$dir/port")
    out=$("$bench" "http://127.0.0.1:$port" 4242 "$dir/key.pem" "$n" "$secs" $insts) || true
    kill "$fh_pid"; wait "$fh_pid" 2>/dev/null || true; fh_pid=
    set -- $out
    statuses=$2 rate=$4 failures=$6
    tokens=$(grep -c '"route":"access_tokens"' "$dir/record.jsonl" || true)
    recorded=$(grep -c '"route":"statuses","cred":"installation".*"status":201' "$dir/record.jsonl" || true)
    awk -v n="$n" -v rate="$rate" -v lat=$latency_ms -v tok="$tokens" -v st="$recorded" \
        -v fail="$failures" 'BEGIN {
            ideal = n / (lat / 1000.0);
            printf "%-8d %12.1f %10.1f %6.1f%% %7d %11.1f %9d\n", n, rate, ideal, 100 * rate / ideal, tok,
                   (st > 0 ? tok * 10000.0 / st : 0), fail }'
done
