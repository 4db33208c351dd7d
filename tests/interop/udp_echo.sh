#!/usr/bin/env bash
# tests/interop/udp_echo.sh BUILD_DIR: the kernel's UDP sends to quasi-echo and checks
# every echo.
#
# Namespace quasi-udpecho-<pid>, tap qtap0: kernel 198.18.11.1/24, quasi 198.18.11.2/24.
# udp_check.py echo-client (Python, kernel sockets) sends 1000 datagrams of 1..8000
# bytes (deterministic sizes, including 1, 1472, 1473, 8000) to port 7 one at a time,
# 1 s receive timeout, at most 3 retries each, and compares each echo byte for byte.
# Above 1472 bytes the datagrams are fragmented kernel->quasi (quasi reassembles) and
# quasi->kernel (quasi fragments). Checks quasi's statistics agree: every datagram was
# echoed, reassembly and fragmentation happened, and no drop means a mishandled packet.
# Bounded: 1000 datagrams (+ at most 3000 retries), a 60 s deadline in the client, and
# `timeout` around it.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=interop_common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/interop_common.sh"
qi_init udp_echo "$@"

KIP=198.18.11.1
QIP=198.18.11.2
TAP=qtap0
COUNT=1000
MAX=8000
FRAGMENTED=1
qi_fragments_reach_quasi || { MAX=1472; FRAGMENTED=0; }

qnetns_create udpecho NS || qi_die "cannot create namespace"
qi_link "$NS" "$TAP" "$KIP/24" || qi_die "cannot create the link"
qi_start_echo "$NS" "$TAP" "$QIP/24" --udp-port 7 --seconds 90

snmp_before="$(qi_snmp "$NS")"
qi_step "udp_check.py echo-client: $COUNT datagrams of 1..$MAX bytes to $QIP:7"
out="$QI_TMP/client.log"
qrun_bounded 75 ip netns exec "$NS" python3 "$QI_HERE/udp_check.py" echo-client --server "$QIP" --port 7 \
  --count "$COUNT" --max-size "$MAX" --seed 11 --timeout 1 --retries 3 --deadline 60 >"$out" 2>&1
rc=$?
cat "$out"
qi_check "every datagram echoed intact (udp_check.py exit $rc)" test "$rc" -eq 0
summary="$(grep 'udp_check: \(PASS\|FAIL\):' "$out" | tail -n 1)"
retries="$(sed -n 's/.* retries=\([0-9]*\).*/\1/p' <<<"$summary")"
if [[ -n "$retries" && "$retries" != 0 ]]; then
  qi_step "NOTE: $retries datagram(s) needed a retry (loss on a tap is unexpected)"
fi

snmp_after="$(qi_snmp "$NS")"
d() { echo $(($(qi_snmp_field "$snmp_after" "$1" "$2") - $(qi_snmp_field "$snmp_before" "$1" "$2"))); }
qi_step "kernel: Udp InDatagrams +$(d Udp InDatagrams) InErrors +$(d Udp InErrors) InCsumErrors +$(d Udp InCsumErrors) RcvbufErrors +$(d Udp RcvbufErrors), Ip ReasmOKs +$(d Ip ReasmOKs) ReasmFails +$(d Ip ReasmFails) FragCreates +$(d Ip FragCreates) InHdrErrors +$(d Ip InHdrErrors)"
qi_expect_ge "kernel reassembled quasi's fragmented echoes (Ip ReasmOKs)" "$(d Ip ReasmOKs)" $((100 * FRAGMENTED))
qi_expect_eq "kernel UDP checksum errors" "$(d Udp InCsumErrors)" 0
qi_expect_eq "kernel UDP input errors" "$(d Udp InErrors)" 0
qi_expect_eq "kernel IP header errors" "$(d Ip InHdrErrors)" 0
qi_expect_eq "kernel reassembly failures" "$(d Ip ReasmFails)" 0

qi_step "stopping quasi-echo for its statistics"
qi_check "quasi-echo exits cleanly on SIGTERM" qi_stop_echo
qi_echo_stats | sed 's/^/  /'
echoed="$(sed -n 's/^quasi-echo: echoed \([0-9]*\) datagrams/\1/p' "$QI_ECHO_LOG")"
qi_expect_ge "quasi-echo echoed datagrams" "${echoed:-0}" "$COUNT"
qi_expect_ge "udp_rx" "$(qi_stat udp_rx)" "$COUNT"
qi_expect_ge "udp_tx" "$(qi_stat udp_tx)" "$COUNT"
qi_expect_ge "ipv4_reassembled (datagrams > 1472 bytes arrive fragmented)" "$(qi_stat ipv4_reassembled)" $((100 * FRAGMENTED))
qi_expect_ge "ipv4_fragments_tx (echoes > 1472 bytes leave fragmented)" "$(qi_stat ipv4_fragments_tx)" $((200 * FRAGMENTED))
qi_expect_ge "arp_entries_learned" "$(qi_stat arp_entries_learned)" 1
qi_expect_eq "udp_no_socket drops" "$(qi_drop udp_no_socket)" 0
bad="$(qi_bad_drops)"
qi_check "no drops that mean malformed or mishandled packets${bad:+: $bad}" test -z "$bad"

qi_finish
