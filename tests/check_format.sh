#!/bin/sh
# The tree follows .clang-format (style.md, convention 12): every tracked C
# file formats to itself. Prints the files that do not and exits 1.
set -eu
cd "$(dirname "$0")/.."
if ! command -v clang-format >/dev/null 2>&1; then
    echo "clang-format not installed (deploy/install-deps.sh installs it)" >&2
    exit 1
fi
bad=0
for f in $(git ls-files '*.c' '*.h' 2>/dev/null || find common receiver worker tests -name '*.[ch]'); do
    if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
        echo "not formatted: $f (run clang-format -i $f)"
        bad=$((bad + 1))
    fi
done
echo "$bad files not formatted"
[ "$bad" = 0 ]
