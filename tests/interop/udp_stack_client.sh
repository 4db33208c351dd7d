#!/usr/bin/env bash
# tests/interop/udp_stack_client.sh BUILD_DIR: quasi originates UDP to a kernel echo
# server and checks every echo.
#
# Namespace quasi-udpclient-<pid>, tap qtap0: kernel 198.18.12.1/24 with a Python UDP
# echo server (udp_check.py echo-server) on 198.18.12.1:7777; quasi 198.18.12.2/24 runs
# build/tests/interop/quasi_udp_client inside the namespace: 1000 datagrams of 1..8000
# bytes, one at a time, 1 s timeout, at most 3 retries each, compared byte for byte.
# The stack resolves the kernel's MAC with its own ARP request (the client checks it is
# unknown before the first send and equals the tap's kernel-side MAC afterwards); the
# kernel learns quasi's MAC from that request. Above 1472 bytes quasi fragments and
# reassembles the kernel's fragmented echoes. The kernel's /proc/net/snmp must show the
# reassembly and no checksum errors.
# Bounded: 1000 datagrams (+ at most 3000 retries), --seconds 60 in the client, the
# server stops after 90 s or 5000 datagrams, `timeout` around everything.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=interop_common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/interop_common.sh"
qi_init udp_stack_client "$@"

KIP=198.18.12.1
QIP=198.18.12.2
QMAC=02:00:00:00:00:01
TAP=qtap0
PORT=7777
COUNT=1000
MAX=8000

[[ -x "$QI_CLIENT" ]] || qi_die "$QI_CLIENT is not built (ninja target quasi_udp_client)"
qnetns_create udpclient NS || qi_die "cannot create namespace"
qnetns_tap "$NS" "$TAP" "$KIP/24" || qi_die "cannot create tap"
KMAC="$(ip -n "$NS" -br link show dev "$TAP" | awk '{print $3}')"
qi_step "kernel side of $TAP has MAC $KMAC"

qi_step "starting the kernel echo server on $KIP:$PORT"
SERVER_LOG="$QI_TMP/server.log"
ip netns exec "$NS" timeout --kill-after=2 95 python3 "$QI_HERE/udp_check.py" echo-server --bind "$KIP" --port "$PORT" \
  --seconds 90 --max-datagrams 5000 >"$SERVER_LOG" 2>&1 &
SERVER_PID=$!
qwait_for "grep -q 'echo server ready' '$SERVER_LOG' || ! kill -0 $SERVER_PID" 10 || qi_die "echo server did not start"
kill -0 "$SERVER_PID" 2>/dev/null || { cat "$SERVER_LOG"; qi_die "echo server exited at start"; }
snmp_before="$(ip netns exec "$NS" cat /proc/net/snmp)"

qi_step "quasi_udp_client: $COUNT datagrams of 1..$MAX bytes to $KIP:$PORT"
CLIENT_LOG="$QI_TMP/client.log"
# In the background so the kernel's neighbour table can be read while the client still
# holds the tap (the kernel flushes it when the tap loses its carrier): --linger-ms.
ip netns exec "$NS" timeout --kill-after=5 75 "$QI_CLIENT" --tap "$TAP" --ip "$QIP/24" --mac "$QMAC" \
  --server "$KIP:$PORT" --count "$COUNT" --max-size "$MAX" --seed 12 --timeout-ms 1000 --retries 3 --seconds 60 \
  --expect-peer-mac "$KMAC" --linger-ms 1500 >"$CLIENT_LOG" 2>&1 &
CLIENT_PID=$!
qwait_for "grep -q 'traffic done, lingering' '$CLIENT_LOG' || ! kill -0 $CLIENT_PID" 80
neigh="$(ip -n "$NS" neigh show "$QIP" dev "$TAP")"
snmp_after="$(ip netns exec "$NS" cat /proc/net/snmp)"
wait "$CLIENT_PID"
rc=$?
cat "$CLIENT_LOG"
qi_check "quasi_udp_client: every datagram echoed intact, ARP checks held (exit $rc)" test "$rc" -eq 0
summary="$(grep -E 'quasi_udp_client: (PASS|FAIL):' "$CLIENT_LOG" | tail -n 1)"
qi_check "client printed its summary" test -n "$summary"
retries="$(sed -n 's/.* retries=\([0-9]*\).*/\1/p' <<<"$summary")"
if [[ -n "$retries" && "$retries" != 0 ]]; then
  qi_step "NOTE: $retries datagram(s) needed a retry (loss on a tap is unexpected)"
fi

# The client's own statistics (same format as quasi-echo's).
cstat() { sed -n '/^stack statistics:/,$p' "$CLIENT_LOG" | awk -v n="$1" '$1 == n && NF == 2 { v = $2 } END { print v + 0 }'; }
# arp_requests_sent also counts the gratuitous announcement add_interface sends (which
# the kernel ignores: arp_accept=0), so resolving the kernel takes it to 2 or more.
qi_expect_ge "arp_requests_sent (announcement + the stack's own request for $KIP)" "$(cstat arp_requests_sent)" 2
qi_expect_ge "arp_entries_learned" "$(cstat arp_entries_learned)" 1
qi_expect_ge "ipv4_fragments_tx (datagrams > 1472 bytes leave fragmented)" "$(cstat ipv4_fragments_tx)" 200
qi_expect_ge "ipv4_reassembled (the kernel's echoes > 1472 bytes arrive fragmented)" "$(cstat ipv4_reassembled)" 100
sed -n '/^stack statistics:/,$p' "$CLIENT_LOG" >"$QI_TMP/client-stats"
bad="$(qi_bad_drops_in "$QI_TMP/client-stats")"
qi_check "no client drops that mean malformed or mishandled packets${bad:+: $bad}" test -z "$bad"

qi_step "kernel's view"
printf '  neigh (while the client held the tap): %s\n' "$neigh"
qi_check "kernel learnt quasi's MAC $QMAC from quasi's ARP request" grep -q "lladdr $QMAC" <<<"$neigh"
# snmp_delta PROTO FIELD: after - before for one /proc/net/snmp field.
snmp_delta() {
  local a b
  a="$(qi_snmp_field "$snmp_after" "$1" "$2")" b="$(qi_snmp_field "$snmp_before" "$1" "$2")"
  echo $((a - b))
}
printf '  kernel: Ip ReasmOKs +%s ReasmFails +%s FragCreates +%s, Udp InDatagrams +%s InErrors +%s InCsumErrors +%s\n' \
  "$(snmp_delta Ip ReasmOKs)" "$(snmp_delta Ip ReasmFails)" "$(snmp_delta Ip FragCreates)" \
  "$(snmp_delta Udp InDatagrams)" "$(snmp_delta Udp InErrors)" "$(snmp_delta Udp InCsumErrors)"
qi_expect_ge "kernel reassembled quasi's fragmented datagrams (Ip ReasmOKs)" "$(snmp_delta Ip ReasmOKs)" 100
qi_expect_eq "kernel reassembly failures (Ip ReasmFails)" "$(snmp_delta Ip ReasmFails)" 0
qi_expect_eq "kernel UDP checksum errors (Udp InCsumErrors)" "$(snmp_delta Udp InCsumErrors)" 0
qi_expect_eq "kernel IP header errors (Ip InHdrErrors)" "$(snmp_delta Ip InHdrErrors)" 0

kill -TERM "$SERVER_PID" 2>/dev/null
wait "$SERVER_PID" 2>/dev/null
cat "$SERVER_LOG"
if ((QI_FAILS > 0)); then
  echo "----- last 40 lines of quasi_udp_client output -----"
  tail -n 40 "$CLIENT_LOG"
fi
qi_finish
