#!/usr/bin/env bash
# tests/interop/udp_port_unreachable.sh BUILD_DIR: a datagram to a closed quasi port
# makes the kernel's connected UDP socket report ECONNREFUSED.
#
# Namespace quasi-udpunreach-<pid>, tap qtap0: kernel 198.18.13.1/24, quasi
# 198.18.13.2/24 (quasi-echo listening on port 7 only). udp_check.py refused connects a
# kernel UDP socket to 198.18.13.2:9, sends, and expects ConnectionRefusedError on the
# next recv: that only happens if quasi sent an ICMP port unreachable the kernel accepted
# (right checksum, quoting the right IP and UDP headers). Then the same for port 65535
# and a control: port 7 (open) still echoes. quasi must count udp_no_socket and
# icmp_errors_sent.
# Bounded: a handful of datagrams, each command under qrun_bounded.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=interop_common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/interop_common.sh"
qi_init udp_port_unreachable "$@"

KIP=198.18.13.1
QIP=198.18.13.2
TAP=qtap0

qnetns_create udpunreach NS || qi_die "cannot create namespace"
qnetns_tap "$NS" "$TAP" "$KIP/24" || qi_die "cannot create tap"
qi_start_echo "$NS" "$TAP" "$QIP/24" --udp-port 7 --seconds 60

snmp_before="$(qi_snmp "$NS")"
for port in 9 65535; do
  qi_step "udp_check.py refused: connected socket to closed port $QIP:$port"
  out="$(qrun_bounded 20 ip netns exec "$NS" python3 "$QI_HERE/udp_check.py" refused --server "$QIP" --port "$port" \
    --attempts 3 --timeout 2 2>&1)"
  rc=$?
  printf '%s\n' "$out"
  qi_check "recv on a socket connected to closed port $port raises ConnectionRefusedError" test "$rc" -eq 0
done

qi_step "control: port 7 is open and echoes (3 datagrams)"
out="$(qrun_bounded 20 ip netns exec "$NS" python3 "$QI_HERE/udp_check.py" echo-client --server "$QIP" --port 7 \
  --count 3 --max-size 100 --timeout 1 --retries 1 --deadline 10 2>&1)"
rc=$?
printf '%s\n' "$out"
qi_check "open port 7 echoes" test "$rc" -eq 0

snmp_after="$(qi_snmp "$NS")"
d() { echo $(($(qi_snmp_field "$snmp_after" "$1" "$2") - $(qi_snmp_field "$snmp_before" "$1" "$2"))); }
qi_step "kernel: Icmp InDestUnreachs +$(d Icmp InDestUnreachs) InErrors +$(d Icmp InErrors) InCsumErrors +$(d Icmp InCsumErrors)"
qi_expect_ge "kernel received the port unreachables (Icmp InDestUnreachs)" "$(d Icmp InDestUnreachs)" 2
qi_expect_eq "kernel ICMP checksum errors" "$(d Icmp InCsumErrors)" 0
qi_expect_eq "kernel ICMP input errors" "$(d Icmp InErrors)" 0

qi_step "stopping quasi-echo for its statistics"
qi_check "quasi-echo exits cleanly on SIGTERM" qi_stop_echo
qi_echo_stats | sed 's/^/  /'
qi_expect_ge "drop udp_no_socket" "$(qi_drop udp_no_socket)" 2
qi_expect_ge "icmp_errors_sent" "$(qi_stat icmp_errors_sent)" 2
qi_expect_eq "drop icmp_rate_limited" "$(qi_drop icmp_rate_limited)" 0
bad="$(qi_bad_drops)"
qi_check "no drops that mean malformed or mishandled packets${bad:+: $bad}" test -z "$bad"

qi_finish
