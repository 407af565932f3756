#!/bin/sh
# pg_cluster.sh start DIR | stop DIR | restart DIR: a private PostgreSQL
# cluster for the tests (the ctest fixture "pg", tests/CMakeLists.txt).
#
# start: a new cluster in DIR/data (initdb and pg_ctl of the newest
# /usr/lib/postgresql/*/bin), listening on a free loopback TCP port only,
# owned by an unprivileged user (initdb refuses root: as root the script
# creates the system user hookqtest if missing, else uses nobody, and runs
# every server command through runuser). Roles:
#   hookq        superuser, trusted from 127.0.0.1 (no password)
#   hookq_pw     login with password 'pw-secret' (scram): the password tests
#   hookq_noperm login, trusted, no privileges: the permission tests
# It writes the superuser's base URI (no database) to DIR/uri, the port to
# DIR/port. restart: pg_ctl restart -m immediate (a crash and recovery).
# halt: stops the server (immediate), keeping DIR; resume: starts it again.
# stop: stops the server (immediate) and removes DIR.
set -eu

cmd=${1:-}
dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ]; then
    echo "usage: pg_cluster.sh start|stop|restart|halt|resume DIR" >&2
    exit 2
fi
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$bin" ]; then
    # No server here: start leaves no DIR/uri, so the tests that need one
    # skip (pgtest.h, hqlib.pg_database) instead of failing.
    echo "pg_cluster.sh: no PostgreSQL server in /usr/lib/postgresql; its tests skip" >&2
    [ "$cmd" = stop ] && rm -rf "$dir"
    exit 0
fi

user=$(id -un)
if [ "$(id -u)" = 0 ]; then
    user=hookqtest
    if ! id "$user" >/dev/null 2>&1; then
        useradd --system --no-create-home --shell /usr/sbin/nologin "$user" 2>/dev/null ||
            user=nobody
    fi
fi
as_user() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u "$user" -- "$@"
    else
        "$@"
    fi
}

pg_stop() {
    if [ -f "$dir/data/postmaster.pid" ]; then
        as_user "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
}

case "$cmd" in
start)
    pg_stop
    rm -rf "$dir"
    mkdir -p "$dir"
    chown "$user" "$dir" 2>/dev/null || true
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_user "$bin/initdb" -D "$dir/data" -U hookq -A trust -E UTF8 --locale=C --no-sync \
        >"$dir/initdb.log" 2>&1
    cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 200
fsync = off
full_page_writes = off
shared_buffers = 32MB
CONF
    cat >"$dir/data/pg_hba.conf" <<HBA
local all all trust
host all hookq_pw 127.0.0.1/32 scram-sha-256
host all all 127.0.0.1/32 trust
HBA
    as_user "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 start >/dev/null
    as_user "$bin/psql" -q -h 127.0.0.1 -p "$port" -U hookq -d postgres -v ON_ERROR_STOP=1 \
        -c "CREATE ROLE hookq_pw LOGIN PASSWORD 'pw-secret'" \
        -c "CREATE ROLE hookq_noperm LOGIN" >/dev/null
    echo "$port" >"$dir/port"
    echo "postgresql://hookq@127.0.0.1:$port" >"$dir/uri"
    chmod -R a+rX "$dir/uri" "$dir/port"
    ;;
restart)
    as_user "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -m immediate -w -t 30 restart \
        >/dev/null
    ;;
halt)
    pg_stop
    ;;
resume)
    as_user "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 start >/dev/null
    ;;
stop)
    pg_stop
    rm -rf "$dir"
    ;;
*)
    echo "pg_cluster.sh: unknown command $cmd" >&2
    exit 2
    ;;
esac
