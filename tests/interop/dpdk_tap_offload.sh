#!/usr/bin/env bash
# tests/interop/dpdk_tap_offload.sh BUILD_DIR: transmit checksum offload on a DPDK port
# that offers it (net_tap: RTE_ETH_TX_OFFLOAD_TCP_CKSUM | UDP_CKSUM), with the Linux
# kernel as the peer.
#
# Namespace quasi-dpdktapoff-<pid>: quasi-echo runs in it on DPDK's net_tap, which makes
# the tap qdtap0 there; the kernel takes 198.18.26.1/24 on it, quasi is 198.18.26.2/24.
#  1. quasi-echo reports the port's TCP/UDP transmit checksums offloaded to the device.
#  2. UDP: 300 datagrams of 1..1472 bytes echoed byte for byte (udp_check.py).
#  3. TCP: 4 MiB echoed, SHA-256 equal both ways (tcp_peer.py echo-client).
# quasi left only the pseudo-header sum in those frames and the device completed it: the
# kernel drops a segment whose checksum is wrong (counting InCsumErrors), so the data
# arriving, with Udp/Tcp InCsumErrors unchanged, proves the offloaded checksums right.
#  4. quasi's port counted the offloaded frames (at least one per datagram and per 1448
#     bytes echoed), no mbuf is missing after stop (exit status 0).
# Root (else skipped, 77). quasi busy-polls lcore 1; ctest pins this script to core 0.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=tcp_common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/tcp_common.sh"
qt_init dpdk_tap_offload "$@"

KIP=198.18.26.1
QIP=198.18.26.2
TAP=qdtap0
COUNT=300
BYTES=$((4 << 20))

qnetns_create dpdktapoff NS || qi_die "cannot create namespace"
qnet_assert_safe_addr "$KIP/24"
QI_ECHO_LOG="$QI_TMP/quasi-echo.log"
qi_step "starting quasi-echo in $NS on net_tap $TAP"
ip netns exec "$NS" "$QI_ECHO" --ip "$QIP/24" --udp-port 7 --tcp-port 7 --seconds 90 --dpdk -- \
  -l "${QUASI_DPDK_LCORES:-1}" --no-huge --no-pci -m 256 --no-shconf --no-telemetry \
  "--file-prefix=quasi-$QI_NAME-$$" --log-level=lib.eal:warning --log-level=pmd.net.tap:crit \
  "--vdev=net_tap0,iface=$TAP,mac=fixed" >"$QI_ECHO_LOG" 2>&1 &
QI_ECHO_PID=$!
QI_ECHO_STOPPED=0
qwait_for "grep -q 'UDP echo on port' '$QI_ECHO_LOG' || ! kill -0 $QI_ECHO_PID" 10 || qi_die "quasi-echo did not start"
kill -0 "$QI_ECHO_PID" 2>/dev/null || qi_die "quasi-echo exited at start"
# net_tap gives its tap the port's own MAC: the kernel's end needs another one, or quasi
# takes the kernel's frames for its own looped back (RFC 5227 2.4) and ignores them.
ip -n "$NS" link set "$TAP" address 02:00:00:00:1a:01 && ip -n "$NS" addr add "$KIP/24" dev "$TAP" &&
  ip -n "$NS" link set "$TAP" up || qi_die "cannot configure $TAP"
qi_wait_link_up "$NS" "$TAP"

# ---- 1. the port offers and uses the offload ----
qi_check "quasi-echo: TCP/UDP transmit checksums offloaded to the device" \
  grep -q 'transmit checksums offloaded to the device' "$QI_ECHO_LOG"

snmp_before="$(qi_snmp "$NS")"
# ---- 2. UDP ----
out="$QI_TMP/udp.log"
qi_step "2. udp_check.py: $COUNT datagrams of 1..1472 B echoed"
qrun_bounded 60 ip netns exec "$NS" python3 "$QI_HERE/udp_check.py" echo-client --server "$QIP" --port 7 \
  --count "$COUNT" --max-size 1472 --seed 26 --timeout 1 --retries 3 --deadline 50 >"$out" 2>&1
rc=$?
tail -n 3 "$out"
qi_check "UDP: $COUNT datagrams echoed byte for byte (udp_check.py exit $rc)" test "$rc" -eq 0

# ---- 3. TCP ----
out="$QI_TMP/tcp.log"
qi_step "3. tcp_peer.py echo-client: $BYTES bytes echoed"
qrun_bounded 70 ip netns exec "$NS" python3 "$QT_PEER" echo-client --server "$QIP" --port 7 \
  --bytes "$BYTES" --seed 26 --deadline 60 >"$out" 2>&1
rc=$?
cat "$out"
sum="$(grep '^tcp_peer: \(PASS\|FAIL\):' "$out" | tail -n 1)"
qi_check "TCP: $BYTES bytes echoed intact, then EOF (tcp_peer.py exit $rc)" test "$rc" -eq 0
qi_check "TCP: SHA-256 of the echo equals SHA-256 of the data sent" \
  test -n "$(qt_field "$sum" sha256_sent)" -a "$(qt_field "$sum" sha256_sent)" == "$(qt_field "$sum" sha256_received)"
snmp_after="$(qi_snmp "$NS")"
d() { echo $(($(qi_snmp_field "$snmp_after" "$1" "$2") - $(qi_snmp_field "$snmp_before" "$1" "$2"))); }
qi_expect_eq "kernel: Udp InCsumErrors" "$(d Udp InCsumErrors)" 0
qi_expect_eq "kernel: Tcp InCsumErrors" "$(d Tcp InCsumErrors)" 0

# ---- 4. quasi's counters ----
qi_check "quasi-echo exits cleanly on SIGTERM (all mbufs back)" qi_stop_echo
stats="$QI_TMP/echo-stats.txt"
qi_echo_stats >"$stats"
sed 's/^/  /' "$stats"
offloaded="$(sed -n 's/.*tx checksums offloaded \([0-9]*\).*/\1/p' "$stats" | awk '{s += $1} END {print s + 0}')"
qi_expect_ge "frames whose checksum the device completed" "$offloaded" $((COUNT + BYTES / 1448))
bad="$(qi_bad_drops_in "$stats")"
qi_check "no drops that mean malformed or mishandled packets${bad:+: $bad}" test -z "$bad"
qi_finish
