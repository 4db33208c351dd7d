#!/usr/bin/env bash
# bench/dpdk_figures.sh [BUILD_DIR]: the DPDK port's figures for the README, from one run.
#
#  1. The cost of the DPDK seam: quasi-perf UDP_STREAM 64 B and TCP_STREAM 1448 B,
#     generic and specialized, on the in-memory link (--link mem) and on a DPDK net_ring
#     pair (--link dpdk; rte_mbufs through BufferSource, rte_eth_rx/tx_burst), both stacks
#     in this process on one thread. Medians of QUASI_FIGURES_REPEAT runs (default 3) of
#     QUASI_FIGURES_SECONDS each (default 1).
#  2. 1 -> 2 cores on net_ring: bench's quasi-dpdk-scale (a stack pair per core, each on
#     its own queue pair and mempools, generic send()).
#  3. Against the Linux kernel (root only): quasi-perf UDP_STREAM 64 B and TCP_STREAM
#     1448 B, generic and specialized, quasi on a tap (--link tap) and on DPDK's
#     net_af_packet over a veth (--link af_packet), the kernel's sockets as the peer in a
#     namespace quasi-perf makes (the kernel's receiver counts); then
#     tests/interop/tcp_bulk.sh, 64 MiB each way at once through quasi-echo, on both
#     (MB/s per direction, part 1 of the test).
# EAL runs without hugepages or PCI; nothing leaves the machine (net_ring is memory;
# the veth lives in namespaces the test creates, 198.18.20.0/24).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
B="$(cd "${1:-$ROOT/build}" && pwd)"
SECS="${QUASI_FIGURES_SECONDS:-1}"
REPEAT="${QUASI_FIGURES_REPEAT:-3}"
PERF="$B/apps/quasi-perf"
SCALE="$B/bench/quasi-dpdk-scale"
for bin in "$PERF" "$SCALE"; do
  [[ -x "$bin" ]] || { echo "dpdk_figures: $bin is not built (scripts/build.sh with libdpdk-dev)" >&2; exit 2; }
done
TMP="$(mktemp -d /tmp/quasi-dpdk-figures.XXXXXX)"
trap 'rm -rf "$TMP"' EXIT

echo "== 1. quasi-perf: in-memory link vs DPDK net_ring (medians of $REPEAT x $SECS s; load $(cut -d' ' -f1 /proc/loadavg))"
for link in mem dpdk; do
  "$PERF" --link "$link" --test UDP_STREAM --sizes 64 --mode both --duration "$SECS" --warmup 0.3 \
    --repeat "$REPEAT" --json --no-progress >"$TMP/udp-$link.json"
  "$PERF" --link "$link" --test TCP_STREAM --mode both --duration "$SECS" --warmup 0.3 \
    --repeat "$REPEAT" --json --no-progress >"$TMP/tcp-$link.json"
done
# table TMP LINK_A LINK_B: generic and specialized medians per link, and LINK_B / LINK_A.
table() {
  python3 - "$@" <<'PY'
import json, sys
tmp, links = sys.argv[1], sys.argv[2:]
rows = [("UDP_STREAM", "64", "pps", 1e6, "Mpps", "udp"), ("TCP_STREAM", "1448", "gbps", 1, "Gbit/s", "tcp")]
ratio_name = f"{links[1]}/{links[0]} (generic)"
print(f"{'test':<18} {'link':<9} {'generic':>10} {'specialized':>12} {'spec/gen':>9} {ratio_name:>24}")
for test, size, key, scale, unit, f in rows:
    base = None
    for link in links:
        r = json.load(open(f"{tmp}/{f}-{link}.json"))["results"][test][size]
        g, s = r["generic"][key]["median"] / scale, r["specialized"][key]["median"] / scale
        ratio = next(iter(r["ratios"].values()))["median"]
        base = base or g
        print(f"{test + ' ' + size + ' B':<18} {link:<9} {g:>7.3f} {unit:<3}{s:>9.3f} {unit:<3}{ratio:>6.2f}x {g / base:>23.2f}x")
PY
}
table "$TMP" mem dpdk

echo
echo "== 2. quasi-dpdk-scale: 1 -> 2 cores on net_ring"
"$SCALE" --seconds "$SECS"

echo
if [[ $EUID -ne 0 ]]; then
  echo "== 3. against the kernel: skipped (needs root for namespaces)"
  exit 0
fi
echo "== 3. quasi-perf against the kernel: quasi on a tap vs on net_af_packet over a veth (medians of $REPEAT x $SECS s; load $(cut -d' ' -f1 /proc/loadavg))"
for link in tap af_packet; do
  "$PERF" --link "$link" --test UDP_STREAM --sizes 64 --mode both --duration "$SECS" --warmup 0.3 \
    --repeat "$REPEAT" --json --no-progress >"$TMP/udp-$link.json" 2>"$TMP/perf-$link.err"
  "$PERF" --link "$link" --test TCP_STREAM --mode both --duration "$SECS" --warmup 0.3 \
    --repeat "$REPEAT" --json --no-progress >"$TMP/tcp-$link.json" 2>>"$TMP/perf-$link.err"
done
table "$TMP" tap af_packet
echo "   (load average now $(cut -d' ' -f1 /proc/loadavg))"

echo
echo "== 3b. tcp_bulk.sh: 64 MiB each way at once through quasi-echo, the kernel as peer"
for link in tap dpdk; do
  QUASI_INTEROP_LINK=$link taskset -c 0 timeout 150 bash "$ROOT/tests/interop/tcp_bulk.sh" "$B" >"$TMP/bulk-$link.log" 2>&1 || true
  line="$(grep -m1 'quasi as server: .* MB/s' "$TMP/bulk-$link.log" || echo 'no figure (test failed)')"
  verdict="$(grep -Eo 'all [0-9]+ checks passed|[0-9]+ of [0-9]+ checks FAILED' "$TMP/bulk-$link.log" | tail -n1)"
  printf '  %-5s %s [%s]\n' "$link" "${line#*] }" "$verdict"
done
