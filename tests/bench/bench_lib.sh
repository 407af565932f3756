# bench_lib.sh: helpers the benchmark scripts share (sourced, not run).

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_http() { # PORT PATH
    for _ in $(seq 1 500); do
        if curl -s -o /dev/null "http://127.0.0.1:$1$2"; then return 0; fi
        sleep 0.02
    done
    echo "nothing answers on port $1" >&2
    return 1
}

field() { # RESULT-LINE NAME: the value of NAME=... in a wrk RESULT line
    sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"
}

median() { # numbers on stdin, one a line -> their median
    sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
