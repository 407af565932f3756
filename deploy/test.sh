#!/bin/sh
# The test command of README.md: installs the dependencies, configures,
# builds and runs the whole ctest suite.
#   deploy/test.sh                 regular build in build/
#   HOOKQ_SANITIZE=1 deploy/test.sh  ASan+UBSan build in build-asan/
#   HOOKQ_TSAN=1 deploy/test.sh      ThreadSanitizer build in build-tsan/
set -eu
cd "$(dirname "$0")/.."
./deploy/install-deps.sh

if [ "${HOOKQ_SANITIZE:-0}" = 1 ]; then
    BUILD=${HOOKQ_BUILD:-build-asan}
    EXTRA="-DHOOKQ_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug"
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
elif [ "${HOOKQ_TSAN:-0}" = 1 ]; then
    BUILD=${HOOKQ_BUILD:-build-tsan}
    EXTRA="-DHOOKQ_TSAN=ON -DCMAKE_BUILD_TYPE=Debug"
    export TSAN_OPTIONS=${TSAN_OPTIONS:-second_deadlock_stack=1}
else
    BUILD=${HOOKQ_BUILD:-build}
    EXTRA=""
fi
# shellcheck disable=SC2086
cmake -S . -B "$BUILD" -DHOOKQ_WERROR=ON $EXTRA
cmake --build "$BUILD" -j"$(nproc)"
cd "$BUILD"
ctest --output-on-failure -j"${HOOKQ_TEST_JOBS:-2}" ${HOOKQ_CTEST_ARGS:-}
