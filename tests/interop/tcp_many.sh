#!/usr/bin/env bash
# tests/interop/tcp_many.sh BUILD_DIR: 1,000 concurrent kernel connections to quasi-echo,
# all opened, used and closed cleanly.
#
# Namespace quasi-tcpmany-<pid>, tap qtap0: kernel 198.18.22.1/24, quasi 198.18.22.2/24.
# tcp_peer.py many (selectors, non-blocking kernel sockets) opens 1000 connections to
# quasi-echo --tcp-port 7 at once and waits until all are established; then each sends a
# distinct 64-byte message and reads its echo; only when every echo is back (so all 1000
# are open together) does each half-close and wait for quasi's FIN. Every connection must
# succeed. Then quasi's accounting: 1000 passive opens and 1000 established, no RST sent
# or received, no SYN dropped (queue full), no connection refused for memory, and after
# a short wait only the listener's socket still in use (quasi closed second, so its
# side ends in LAST-ACK -> CLOSED, never TIME-WAIT). The kernel side: 1000 ActiveOpens,
# no AttemptFails/EstabResets, and its sockets end in TIME-WAIT (it closed first).
# The SYN burst overflows the tap's 1000-frame queue or quasi's 256-entry SYN queue at
# times: then the kernel retransmits SYNs or quasi answers with SYN cookies, which is
# fine (reported, not failed).
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=tcp_common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/tcp_common.sh"
qt_init tcp_many "$@"

KIP=198.18.22.1
QIP=198.18.22.2
TAP=qtap0
PORT=7
COUNT=1000

qnetns_create tcpmany NS || qi_die "cannot create namespace"
qi_link "$NS" "$TAP" "$KIP/24" || qi_die "cannot create the link"
qt_kernel_cubic "$NS"
qi_start_echo "$NS" "$TAP" "$QIP/24" --tcp-port "$PORT" --seconds 100

snmp_before="$(qi_snmp "$NS")"
out="$QI_TMP/many.log"
qi_step "tcp_peer.py many: $COUNT concurrent connections to $QIP:$PORT"
qrun_bounded 70 ip netns exec "$NS" python3 "$QT_PEER" many --server "$QIP" --port "$PORT" --count "$COUNT" \
  --size 64 --deadline 60 >"$out" 2>&1
rc=$?
cat "$out"
sum="$(grep '^tcp_peer: \(PASS\|FAIL\):' "$out" | tail -n 1)"
qi_check "all $COUNT connections opened, echoed and closed (tcp_peer.py exit $rc)" test "$rc" -eq 0
qi_expect_eq "connections open at the same time" "$(qt_field "$sum" max_open_together)" "$COUNT"
qi_expect_eq "connections closed cleanly (EOF after our FIN)" "$(qt_field "$sum" closed)" "$COUNT"
snmp_after="$(qi_snmp "$NS")"
d() { echo $(($(qi_snmp_field "$snmp_after" "$1" "$2") - $(qi_snmp_field "$snmp_before" "$1" "$2"))); }
qi_step "kernel: Tcp ActiveOpens +$(d Tcp ActiveOpens) AttemptFails +$(d Tcp AttemptFails) EstabResets +$(d Tcp EstabResets) RetransSegs +$(d Tcp RetransSegs) InErrs +$(d Tcp InErrs) OutRsts +$(d Tcp OutRsts) InCsumErrors +$(d Tcp InCsumErrors)"
qi_expect_eq "kernel active opens" "$(d Tcp ActiveOpens)" "$COUNT"
qi_expect_eq "kernel failed connection attempts" "$(d Tcp AttemptFails)" 0
qi_expect_eq "kernel resets of established connections" "$(d Tcp EstabResets)" 0
qi_expect_eq "kernel RSTs sent" "$(d Tcp OutRsts)" 0
qi_expect_eq "kernel TCP input errors" "$(d Tcp InErrs)" 0
tw="$(ip netns exec "$NS" ss -Htan state time-wait "( dport = :$PORT )" 2>/dev/null | wc -l)"
est="$(ip netns exec "$NS" ss -Htan state established "( dport = :$PORT )" 2>/dev/null | wc -l)"
qi_step "kernel sockets to $QIP:$PORT: $tw in TIME-WAIT (it closed first), $est still established"
qi_expect_eq "kernel connections still established" "$est" 0
qi_expect_eq "kernel connections in TIME-WAIT" "$tw" "$COUNT"

# quasi's LAST-ACK sockets close when the kernel's final ACKs arrive; give stragglers
# (a lost final ACK means a FIN retransmission after an RTO) a moment.
sleep 1
qi_step "stopping quasi-echo for its statistics"
qi_check "quasi-echo exits cleanly on SIGTERM" qi_stop_echo
stats="$QI_TMP/echo-stats.txt"
qi_echo_stats >"$stats"
sed 's/^/  /' "$stats"
line="$(grep '^quasi-echo: tcp connections accepted' "$stats")"
accepted="$(sed -n 's/.*accepted \([0-9]*\),.*/\1/p' <<<"$line")"
open_conns="$(sed -n 's/.*, open \([0-9]*\),.*/\1/p' <<<"$line")"
in_use="$(sed -n 's/.*sockets in use \([0-9]*\).*/\1/p' <<<"$line")"
qi_expect_eq "quasi-echo accepted connections" "${accepted:-0}" "$COUNT"
qi_expect_eq "quasi-echo connections still open at exit" "${open_conns:-1}" 0
qi_expect_eq "quasi TCP sockets in use at exit (the listeners only, one per core)" "${in_use:-0}" "$(qi_cores)"
qi_expect_cores_carried "$stats" quasi-echo
# A connection completed through a SYN cookie is counted in tcp_syn_cookies_accepted,
# not in tcp_passive_opens.
qi_expect_eq "tcp_passive_opens + tcp_syn_cookies_accepted" \
  "$(($(qt_stat_in "$stats" tcp_passive_opens) + $(qt_stat_in "$stats" tcp_syn_cookies_accepted)))" "$COUNT"
qi_expect_eq "tcp_established" "$(qt_stat_in "$stats" tcp_established)" "$COUNT"
qi_expect_eq "tcp_resets_sent" "$(qt_stat_in "$stats" tcp_resets_sent)" 0
qi_expect_eq "tcp_resets_rx" "$(qt_stat_in "$stats" tcp_resets_rx)" 0
for reason in tcp_accept_queue_full tcp_syn_queue_full tcp_no_memory tcp_no_socket tcp_bad_ack tcp_ack_to_listener \
  tcp_data_after_fin tcp_ack_unsent; do
  qi_expect_eq "drop $reason" "$(qt_drop_in "$stats" "$reason")" 0
done
bad="$(qi_bad_drops_in "$stats")"
qi_check "no drops that mean malformed or mishandled packets${bad:+: $bad}" test -z "$bad"
qi_step "SYN cookies sent $(qt_stat_in "$stats" tcp_syn_cookies_sent), accepted $(qt_stat_in "$stats" tcp_syn_cookies_accepted); quasi retransmits $(qt_stat_in "$stats" tcp_retransmits); kernel RetransSegs +$(d Tcp RetransSegs)"
qi_step "timing: $(qt_field "$sum" connect_s) s to connect all, $(qt_field "$sum" echo_s) s to echo, $(qt_field "$sum" close_s) s to close"
qi_finish
