#!/usr/bin/env bash
# tests/interop/icmp_ping.sh BUILD_DIR: the Linux kernel pings quasi-echo across a tap.
#
# Namespace quasi-icmp-<pid>, tap qtap0: kernel 198.18.10.1/24, quasi 198.18.10.2/24.
# Checks:
#  - `ping -c 20 -i 0.05 -W 2`: all 20 answered;
#  - `ping -s 4000 -c 5 -M dont`: all answered; the requests reach quasi as fragments
#    (ipv4_reassembled >= 5) and the 4008-byte replies leave it fragmented
#    (ipv4_fragments_tx >= 15);
#  - ARP kernel->stack: the kernel's neighbour entry for 198.18.10.2 holds quasi's MAC;
#  - ARP stack->kernel: quasi learnt the kernel (arp_entries_learned) and answered its
#    request (arp_replies_sent);
#  - no drop reason that means a malformed or mishandled packet.
# With QUASI_INTEROP_LINK=dpdk (quasi on net_af_packet over a veth) the fragmented
# pings are left out: see qi_fragments_reach_quasi.
# Bounded: 25 pings, each command under qrun_bounded; the whole test under ~10 s.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=interop_common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/interop_common.sh"
qi_init icmp_ping "$@"

KIP=198.18.10.1
QIP=198.18.10.2
QMAC=02:00:00:00:00:01
TAP=qtap0

qnetns_create icmp NS || qi_die "cannot create namespace"
qi_link "$NS" "$TAP" "$KIP/24" || qi_die "cannot create the link"
qi_start_echo "$NS" "$TAP" "$QIP/24" --mac "$QMAC" --seconds 60

snmp_before="$(qi_snmp "$NS")"
qi_step "ping -c 20 -i 0.05 -W 2 $QIP (kernel -> quasi, 56-byte payload)"
out="$(qrun_bounded 20 ip netns exec "$NS" ping -n -c 20 -i 0.05 -W 2 "$QIP" 2>&1)"
printf '%s\n' "$out" | tail -n 3
qi_check "20 small echo requests, 20 replies" grep -q '20 packets transmitted, 20 received' <<<"$out"

FRAGMENTED=0
if qi_fragments_reach_quasi; then
  FRAGMENTED=5
  qi_step "ping -s 4000 -c 5 -M dont -i 0.2 -W 2 $QIP (fragmented both ways)"
  out="$(qrun_bounded 20 ip netns exec "$NS" ping -n -s 4000 -c 5 -M dont -i 0.2 -W 2 "$QIP" 2>&1)"
  printf '%s\n' "$out" | tail -n 3
  qi_check "5 fragmented echo requests, 5 replies" grep -q '5 packets transmitted, 5 received' <<<"$out"
  qi_check "replies carry 4008 bytes of ICMP" grep -q '^4008 bytes from' <<<"$out"
fi

qi_step "kernel neighbour table"
neigh="$(ip -n "$NS" neigh show "$QIP" dev "$TAP")"
printf '  %s\n' "$neigh"
qi_check "kernel resolved $QIP to quasi's MAC $QMAC via ARP" \
  grep -Eq "lladdr $QMAC (REACHABLE|STALE|DELAY|PROBE)" <<<"$neigh"

snmp_after="$(qi_snmp "$NS")"
d() { echo $(($(qi_snmp_field "$snmp_after" "$1" "$2") - $(qi_snmp_field "$snmp_before" "$1" "$2"))); }
qi_step "kernel: Icmp InEchoReps +$(d Icmp InEchoReps) InCsumErrors +$(d Icmp InCsumErrors) InErrors +$(d Icmp InErrors), Ip ReasmOKs +$(d Ip ReasmOKs) ReasmFails +$(d Ip ReasmFails) FragCreates +$(d Ip FragCreates) InHdrErrors +$(d Ip InHdrErrors)"
qi_expect_ge "kernel counted the echo replies (Icmp InEchoReps)" "$(d Icmp InEchoReps)" $((20 + FRAGMENTED))
qi_expect_ge "kernel reassembled quasi's fragmented replies (Ip ReasmOKs)" "$(d Ip ReasmOKs)" "$FRAGMENTED"
qi_expect_ge "kernel fragmented its 4028-byte requests (Ip FragCreates)" "$(d Ip FragCreates)" $((3 * FRAGMENTED))
qi_expect_eq "kernel ICMP checksum errors" "$(d Icmp InCsumErrors)" 0
qi_expect_eq "kernel IP header errors" "$(d Ip InHdrErrors)" 0
qi_expect_eq "kernel reassembly failures" "$(d Ip ReasmFails)" 0

qi_step "stopping quasi-echo for its statistics"
qi_check "quasi-echo exits cleanly on SIGTERM" qi_stop_echo
qi_echo_stats | sed 's/^/  /'
qi_expect_ge "icmp_echo_replies" "$(qi_stat icmp_echo_replies)" $((20 + FRAGMENTED))
qi_expect_ge "ipv4_reassembled (4000-byte requests arrive as fragments)" "$(qi_stat ipv4_reassembled)" "$FRAGMENTED"
qi_expect_ge "ipv4_fragments_tx (4008-byte replies leave as 3 fragments)" "$(qi_stat ipv4_fragments_tx)" $((3 * FRAGMENTED))
qi_expect_ge "arp_replies_sent (answered the kernel's request)" "$(qi_stat arp_replies_sent)" 1
qi_expect_ge "arp_entries_learned (learnt the kernel's MAC)" "$(qi_stat arp_entries_learned)" 1
bad="$(qi_bad_drops)"
qi_check "no drops that mean malformed or mishandled packets${bad:+: $bad}" test -z "$bad"

qi_finish
