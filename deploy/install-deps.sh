#!/bin/sh
# Installs every Debian package that hookq's build, tests, benchmarks and demo
# need. Safe to run twice: apt-get skips what is installed. Needs root (or
# sudo); without either it only reports what is missing.
set -eu

PACKAGES="build-essential cmake pkg-config clang clang-format libclang-rt-14-dev git \
libmicrohttpd-dev liblmdb-dev libcurl4-openssl-dev libssl-dev libcjson-dev libpq-dev postgresql \
lmdb-utils openssl curl ca-certificates python3 python3-yaml jq wrk nginx systemd procps"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
if [ -z "$missing" ]; then
    echo "install-deps: all packages present"
    exit 0
fi
echo "install-deps: installing:$missing"
if [ "$(id -u)" = 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "install-deps: not root and no sudo; install these packages:$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
