#!/bin/sh
# Instructions per send through the guards (bench/guard_bench.cpp), counted exactly by
# callgrind, the loop's own cost (region baseline) subtracted.
#
#   bench/guards_callgrind.sh [BENCH [BENCH_WITHOUT_CHECKS]]
#
# BENCH defaults to build/bench/quasi-bench-guards. BENCH_WITHOUT_CHECKS (default:
# build-noguard/bench/quasi-bench-guards when it exists) is the same bench from a build
# configured with -DQUASI_BENCH_NO_GUARD_CHECK=ON (the code's guard-word check and the
# handle's check at entry compiled out); its column shows what the checks cost:
#   scripts/build.sh build-noguard -DQUASI_BENCH_NO_GUARD_CHECK=ON   (or, cheaper:
#   cmake -S . -B build-noguard -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQUASI_BENCH_NO_GUARD_CHECK=ON
#   cmake --build build-noguard --target quasi-bench-guards)
set -eu
bench=${1:-build/bench/quasi-bench-guards}
unchecked=${2:-build-noguard/bench/quasi-bench-guards}
[ -x "$unchecked" ] || unchecked=
command -v valgrind >/dev/null || { echo "guards_callgrind.sh: valgrind not installed" >&2; exit 1; }
dir=$(mktemp -d /tmp/quasi-guards-callgrind-XXXXXX)
trap 'rm -rf "$dir"' EXIT

# measure BINARY TAG: lines "TAG region size instructions-per-send".
measure() {
    mkdir -p "$dir/$2"
    valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file="$dir/$2/cg.out" "$1" >"$dir/$2/log" 2>&1 ||
        { cat "$dir/$2/log" >&2; exit 1; }
    grep -v '^==' "$dir/$2/log" | grep ' B ' | sed "s/^/$2: /" >&2 || true
    for f in "$dir/$2"/cg.out*; do
        region=$(sed -n 's/^desc: Trigger: Client Request: region //p' "$f")
        total=$(sed -n 's/^\(totals\|summary\): *//p' "$f" | head -n 1)
        if [ -n "$region" ]; then echo "$region $total"; fi
    done | awk -v tag="$2" '{ ir[$1 " " $2] = $3 }
        END { for (k in ir) { split(k, p, " "); if (p[1] != "baseline")
                printf "%s %s %s %.1f\n", tag, p[1], p[2], (ir[k] - ir["baseline " p[2]]) / 2000 } }'
}

{
    measure "$bench" checked
    if [ -n "$unchecked" ]; then measure "$unchecked" unchecked; fi
} >"$dir/all"
awk -v both="${unchecked:+1}" '{ v[$1 " " $2 " " $3] = $4; kinds[$2] = 1 }
    function cell(t, k, s) { return (t " " k " " s) in v ? sprintf("%12.1f", v[t " " k " " s]) : sprintf("%12s", "-") }
    END {
        printf "%-12s %12s %12s", "region", "64 B", "1400 B"
        if (both) printf " | %12s %12s  (guard checks compiled out)", "64 B", "1400 B"
        printf "\n"
        for (k in kinds) {
            printf "%-12s %s %s", k, cell("checked", k, 64), cell("checked", k, 1400)
            if (both) printf " | %s %s", cell("unchecked", k, 64), cell("unchecked", k, 1400)
            printf "\n"
        }
    }' "$dir/all"
