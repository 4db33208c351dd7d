#!/bin/sh
# Instructions per send through the guards (bench/guard_bench.cpp), counted exactly by
# callgrind, the loop's own cost (region baseline) subtracted.
#
#   bench/guards_callgrind.sh [path/to/quasi-bench-guards]   (default: build/bench/quasi-bench-guards)
set -eu
bench=${1:-build/bench/quasi-bench-guards}
command -v valgrind >/dev/null || { echo "guards_callgrind.sh: valgrind not installed" >&2; exit 1; }
dir=$(mktemp -d /tmp/quasi-guards-callgrind-XXXXXX)
trap 'rm -rf "$dir"' EXIT
valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file="$dir/cg.out" "$bench" >"$dir/log" 2>&1 ||
    { cat "$dir/log" >&2; exit 1; }
grep -v '^==' "$dir/log" | grep ' B ' || true
for f in "$dir"/cg.out*; do
    region=$(sed -n 's/^desc: Trigger: Client Request: region //p' "$f")
    total=$(sed -n 's/^\(totals\|summary\): *//p' "$f" | head -n 1)
    if [ -n "$region" ]; then echo "$region $total"; fi
done | awk '{ ir[$1 " " $2] = $3; kinds[$1] = 1; sizes[$2] = 1 }
    END {
        printf "%-12s %12s %12s\n", "region", "64 B", "1400 B"
        for (k in kinds) if (k != "baseline") {
            a = (k " 64") in ir ? sprintf("%12.1f", (ir[k " 64"] - ir["baseline 64"]) / 2000) : sprintf("%12s", "-")
            b = (k " 1400") in ir ? sprintf("%12.1f", (ir[k " 1400"] - ir["baseline 1400"]) / 2000) : sprintf("%12s", "-")
            printf "%-12s %s %s\n", k, a, b
        }
    }'
