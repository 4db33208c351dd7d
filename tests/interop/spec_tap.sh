#!/usr/bin/env bash
# tests/interop/spec_tap.sh BUILD_DIR: specialized send handles (jit/specialize.hpp) over
# a tap, against the Linux kernel's UDP and TCP.
#
# Namespace quasi-spectap-<pid>, tap qtap0: kernel 198.18.30.1/24 runs spec_peer.py (UDP
# on :9000, TCP on :5001); quasi 198.18.30.2/24 runs quasi_spec_client inside the
# namespace. The client connects TCP (TCP_NODELAY), connects a UDP socket, and asks for
# two handles: UDP with the message size declared (1024 B), TCP with the ADU declared
# as 1448 (one full segment with timestamps). Through them it sends 20,000 datagrams
# (paced: 250 per 2 ms; the kernel's receive buffer is 64 MiB, so none may be lost) and
# then 32 MiB of TCP, half-closes and waits for the kernel's FIN.
# Checks: the kernel received every datagram once, each with the expected content; it
# received exactly 32 MiB with the SHA-256 of what the client handed to the handle, and
# a clean EOF; both handles sent through specialized code (specialized_sends > 0; the
# split between specialized and generic sends is reported: a TCP unit the windows cannot
# take whole goes down the generic path); the client's stack saw no
# drop that means a malformed or mishandled packet, and sent no RST.
# Bounded: the client by --seconds 60 and `timeout`, the peer by --deadline 70 and
# `timeout`, the whole script by ctest.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=tcp_common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/tcp_common.sh"
qt_init spec_tap "$@"
SPEC_CLIENT="$QI_BUILD/apps/quasi-spec-client"
SPEC_PEER="$QI_HERE/spec_peer.py"
qt_require_bin "$SPEC_CLIENT"

KIP=198.18.30.1
QIP=198.18.30.2
TAP=qtap0
UDP_PORT=9000
TCP_PORT=5001
UDP_COUNT=20000
UDP_SIZE=1024
TCP_BYTES=$((32 << 20))

qnetns_create spectap NS || qi_die "cannot create namespace"
qnetns_tap "$NS" "$TAP" "$KIP/24" || qi_die "cannot create tap"

PEER_LOG="$QI_TMP/peer.log"
: >"$PEER_LOG"
ip netns exec "$NS" timeout --kill-after=5 75 python3 "$SPEC_PEER" --bind "$KIP" --udp-port "$UDP_PORT" \
  --udp-count "$UDP_COUNT" --udp-size "$UDP_SIZE" --tcp-port "$TCP_PORT" --log "$PEER_LOG" --deadline 70 \
  >"$QI_TMP/peer.out" 2>&1 &
PEER_PID=$!
qwait_for "grep -q '^spec_peer: ready' '$PEER_LOG' || ! kill -0 $PEER_PID" 10
grep -q '^spec_peer: ready' "$PEER_LOG" || qi_die "spec_peer.py did not start: $(cat "$QI_TMP/peer.out")"
qi_step "kernel peer (spec_peer.py) on $KIP: UDP :$UDP_PORT, TCP :$TCP_PORT"

out="$QI_TMP/client.log"
qi_step "quasi_spec_client: $UDP_COUNT x $UDP_SIZE B UDP, then $TCP_BYTES B TCP, through specialized handles"
qrun_bounded 75 ip netns exec "$NS" "$SPEC_CLIENT" --tap "$TAP" --ip "$QIP/24" --server "$KIP" \
  --udp-port "$UDP_PORT" --udp-count "$UDP_COUNT" --udp-size "$UDP_SIZE" --tcp-port "$TCP_PORT" \
  --tcp-bytes "$TCP_BYTES" --seed 30 --seconds 60 >"$out" 2>&1
rc=$?
sed '/^stack statistics:/,$s/^/  /' "$out"
wait "$PEER_PID"
prc=$?
cat "$QI_TMP/peer.out"

sum="$(grep '^quasi_spec_client: \(PASS\|FAIL\):' "$out" | tail -n 1)"
udp="$(grep '^spec_peer: udp ' "$PEER_LOG" | tail -n 1)"
tcp="$(grep '^spec_peer: tcp ' "$PEER_LOG" | tail -n 1)"
qi_check "client: everything sent, peer's FIN seen, both handles specialized (exit $rc)" test "$rc" -eq 0
qi_check "kernel peer: every datagram intact, TCP ended in EOF (exit $prc)" test "$prc" -eq 0
qi_expect_eq "kernel: distinct UDP datagrams received" "$(qt_field "$udp" distinct)" "$UDP_COUNT"
qi_expect_eq "kernel: UDP datagrams with wrong length or content" "$(qt_field "$udp" bad)" 0
qi_expect_eq "kernel: duplicate UDP datagrams" "$(qt_field "$udp" duplicates)" 0
qi_check "kernel: exactly $TCP_BYTES TCP bytes" test "$(qt_field "$tcp" bytes)" == "$TCP_BYTES"
qi_check "kernel: SHA-256 of the TCP stream equals SHA-256 of what the handle was given" \
  test -n "$(qt_field "$sum" sha256_sent)" -a "$(qt_field "$sum" sha256_sent)" == "$(qt_field "$tcp" sha256)"
udp_spec="$(qt_field "$sum" udp_specialized)"
udp_gen="$(qt_field "$sum" udp_generic)"
tcp_spec="$(qt_field "$sum" tcp_specialized)"
tcp_gen="$(qt_field "$sum" tcp_generic)"
qi_expect_ge "UDP handle: sends through specialized code" "${udp_spec:-0}" 1
qi_expect_ge "TCP handle: sends through specialized code" "${tcp_spec:-0}" 1
qi_expect_eq "client: RSTs sent" "$(qt_stat_in "$out" tcp_resets_sent)" 0
qi_expect_eq "client: RSTs received" "$(qt_stat_in "$out" tcp_resets_rx)" 0
bad="$(qi_bad_drops_in "$out")"
qi_check "client: no drops that mean malformed or mishandled packets${bad:+: $bad}" test -z "$bad"

# TCP's generic sends: a unit the windows cannot take whole at once is queued by
# TcpLayer::send (jit/specialize.hpp), and the remainder of a unit the send buffer took
# only in part (tcp_partial) is not 1448 bytes.
qi_step "SPECIALIZED vs GENERIC sends: UDP ${udp_spec:-?}/${udp_gen:-?}, TCP ${tcp_spec:-?}/${tcp_gen:-?}" \
  "(TCP: $(qt_field "$sum" tcp_partial) units taken in part)"
qi_step "UDP: $(qt_field "$udp" distinct)/$UDP_COUNT datagrams received in $(qt_field "$sum" udp_s) s (paced)"
qi_step "TCP: $(qt_field "$sum" tcp_MBps) MB/s (client, accept to FIN), $(qt_field "$tcp" throughput_MBps) MB/s" \
  "(kernel, first byte to EOF); quasi retransmits $(qt_stat_in "$out" tcp_retransmits)"
qi_finish
