#!/bin/sh
# Instructions per send, generic vs specialized (UDP and TCP), counted exactly by callgrind.
#
#   bench/callgrind.sh [path/to/quasi-bench-spec]   (default: build/bench/quasi-bench-spec)
#
# Runs the bench's measured regions under valgrind with collection off except inside
# each region (client requests CALLGRIND_TOGGLE_COLLECT around 2000 sends, then
# CALLGRIND_DUMP_STATS_AT), and prints instructions per send with the loop's own
# cost (a baseline region calling an empty function) subtracted. quasi-bench-spec
# runs the same thing itself for its table; this script shows the raw numbers.
# lwip_udp_sendto is lwIP's udp_sendto_chksum (checksum on copy, as its sockets layer
# sends) measured the same way in the same run (bench/lwip_baseline.hpp), when the
# bench was built with liblwip-dev; quasi-bench-spec also breaks both down by kind of work.
set -eu
bench=${1:-build/bench/quasi-bench-spec}
command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind not installed" >&2; exit 1; }
dir=$(mktemp -d /tmp/quasi-callgrind-XXXXXX)
trap 'rm -rf "$dir"' EXIT
valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file="$dir/cg.out" \
    "$bench" --callgrind-regions >"$dir/log" 2>&1 || { cat "$dir/log" >&2; exit 1; }
for f in "$dir"/cg.out*; do
    region=$(sed -n 's/^desc: Trigger: Client Request: region //p' "$f")
    total=$(sed -n 's/^\(totals\|summary\): *//p' "$f" | head -n 1)
    if [ -n "$region" ]; then echo "$region $total"; fi
done >"$dir/regions"
# UDP: 64 B and 1 KB datagrams.
awk '$1 !~ /^tcp_/ { ir[$1 " " $2] = $3; kinds[$1] = 1 }
    END {
        for (k in kinds) if (k != "baseline")
            printf "%-22s %10.1f %10.1f\n", k, (ir[k " 64"] - ir["baseline 64"]) / 2000, (ir[k " 1024"] - ir["baseline 1024"]) / 2000
    }' "$dir/regions" | sort | sed '1i\
instructions/send           64 B       1 KB'
# The generic path against lwIP's udp_sendto_chksum (quasi-bench-spec built with
# liblwip-dev; the goal: at most 0.7x at 64 B).
awk '{ ir[$1 " " $2] = $3 }
    END {
        if (!("lwip_udp_sendto 64" in ir)) { print "lwip_udp_sendto        not built (no liblwip-dev)"; exit }
        g64 = ir["generic_send_to 64"] - ir["baseline 64"]; l64 = ir["lwip_udp_sendto 64"] - ir["baseline 64"]
        g1k = ir["generic_send_to 1024"] - ir["baseline 1024"]; l1k = ir["lwip_udp_sendto 1024"] - ir["baseline 1024"]
        printf "%-22s %10.2f %10.2f   (goal <= 0.7 at 64 B)\n", "ratio generic/lwIP", g64 / l64, g1k / l1k
    }' "$dir/regions"
# TCP: 1448 B sends, one full segment each (the fixture's acknowledging is in the baseline).
awk '$1 ~ /^tcp_/ { ir[$1] = $3 }
    END {
        for (k in ir) if (k != "tcp_baseline")
            printf "%-26s %10.1f\n", k, (ir[k] - ir["tcp_baseline"]) / 2000
    }' "$dir/regions" | sort | sed '1i\
TCP instructions/send          1448 B'
