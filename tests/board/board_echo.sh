#!/usr/bin/env bash
# tests/board/board_echo.sh BUILD_DIR [BOARD_BUILD_DIR]: quasi-board-echo on the
# emulated Cortex-M3 board (qemu-system-arm -M mps2-an385, LAN9118 on a tap) against
# the Linux kernel in a namespace this test creates.
#
# Namespace quasi-board-<pid>, tap qbtap0: kernel 198.18.50.1/24, board 198.18.50.2/24
# (given at boot). BOARD_BUILD_DIR defaults to BUILD_DIR-board; the firmware is
# (re)built there with scripts/board.sh build (a no-op when up to date).
#  1. ping (5), and a 4000-byte ping that fragments both ways (2)
#  2. UDP echo, 300 datagrams of sizes 1..1472 (udp_check.py), each compared
#  3. 8 concurrent TCP echo connections of 1 MiB each, SHA-256 of sent = received
#  4. curl /bytes/1048576: SHA-256 of the body equals the formula's (tcp_peer.py)
#  5. the bad inputs of the shared list (tests/board/bad_frames.py, scapy): the board
#     keeps answering ping and counts each under its drop reason
#  6. the board's statistics over its UART (s), then q: QEMU exits 0 only with a flat
#     heap; the test also reads the heap audit itself: no malloc after start-up,
#     the TCP rings came from the firmware's arena (none refused), and the
#     counters match the traffic (echo replies, datagrams, bytes echoed, responses).
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../interop/interop_common.sh
source "$HERE/../interop/interop_common.sh"
# shellcheck source=board_common.sh
source "$HERE/board_common.sh"
qi_init board_echo "${1:-}"
BOARD_BUILD="${2:-${QI_BUILD}-board}"
for t in qemu-system-arm curl sha256sum mkfifo; do
  command -v "$t" >/dev/null || { printf '[%s] error: required tool %s is missing (scripts/setup.sh test)\n' "$QI_NAME" "$t" >&2; exit 2; }
done

KIP=198.18.50.1
BIP=198.18.50.2
TAP=qbtap0
MIB=1048576
CONNS=8
PEER="$QI_REPO/tests/interop/tcp_peer.py"
UDP="$QI_REPO/tests/interop/udp_check.py"

qb_build_firmware "$BOARD_BUILD"
qb_netns "$TAP" "$KIP/24"
qb_boot "$TAP" "$BIP" "$KIP"

qi_check "ping x5" ip netns exec "$NS" ping -c 5 -i 0.2 -W 2 "$BIP"
qi_check "ping 4000 B (fragmented both ways) x2" ip netns exec "$NS" ping -c 2 -i 0.2 -W 2 -s 4000 "$BIP"
UDP_COUNT=300
qi_check "UDP echo, $UDP_COUNT datagrams of 1..1472 B" qrun_bounded 60 ip netns exec "$NS" python3 "$UDP" echo-client \
  --server "$BIP" --port 7 --count "$UDP_COUNT" --max-size 1472 --deadline 50

qi_step "$CONNS concurrent TCP echo connections of $MIB bytes"
pids=()
for ((i = 0; i < CONNS; i++)); do
  ip netns exec "$NS" timeout 90 python3 "$PEER" echo-client --server "$BIP" --port 7 --bytes "$MIB" \
    --seed "$i" --deadline 80 >"$QI_TMP/echo$i.log" 2>&1 &
  pids+=($!)
done
passed=0
for ((i = 0; i < CONNS; i++)); do
  wait "${pids[$i]}" && passed=$((passed + 1))
  grep 'tcp_peer:' "$QI_TMP/echo$i.log" | tail -n 1
done
qi_expect_eq "TCP echo connections passed (SHA-256)" "$passed" "$CONNS"

want="$(python3 "$PEER" http-digest "$MIB" | awk '{print $1}')"
got="$(ip netns exec "$NS" curl -sS -m 60 "http://$BIP/bytes/$MIB" | sha256sum | awk '{print $1}')"
qi_step "curl /bytes/$MIB: sha256 $got (expected $want)"
qi_check "HTTP body SHA-256 matches" test "$got" = "$want"

qi_step "bad inputs (scapy) from the kernel's side, then ping again"
# Debian's python3 carries python3-scapy (a python3 earlier in PATH may not).
qrun_bounded 60 ip netns exec "$NS" /usr/bin/python3 "$HERE/bad_frames.py" --iface "$TAP" --dst-ip "$BIP" \
  --dst-mac 52:54:00:12:34:56 --src-ip "$KIP" >"$QI_TMP/bad.txt" 2>&1 || { cat "$QI_TMP/bad.txt"; qi_die "bad_frames.py failed"; }
qi_check "ping after the bad inputs" ip netns exec "$NS" ping -c 2 -i 0.2 -W 2 "$BIP"

qi_step "statistics over the UART, then q"
printf s >&7
qwait_for "grep -q 'quasi-board: stats end' '$UART_LOG'" 10 || qi_die "no statistics on the UART"
printf q >&7
rc=0
wait "$QEMU_PID" || rc=$?
sleep 0.2
qi_expect_eq "QEMU exit status (0: heap flat at q)" "$rc" 0
# The block printed at q (the last one).
awk '/quasi-board: stats begin/ { n++; buf = "" } { buf = buf $0 "\n" } END { printf "%s", buf }' "$UART_LOG" >"$QI_TMP/stats"
cat "$QI_TMP/stats"
board_stat() { awk -v k="$1" '{ sub(/\r$/, "") } index($0, "  " k " ") == 1 { v = substr($0, length(k) + 4); sub(/ .*/, "", v) } END { print v + 0 }' "$QI_TMP/stats"; }
qi_expect_eq "heap: malloc calls after start-up" "$(board_stat 'heap data_path_allocations')" 0
qi_expect_eq "arena: requests refused" "$(board_stat 'arena refusals')" 0
# Each connection's two rings take at least 2 KiB each from the arena as bytes come.
qi_expect_ge "arena: high water above the start-up tables (rings of $CONNS connections)" \
  "$(board_stat 'arena high_water')" $(($(board_stat 'arena startup_bytes') + 2 * CONNS * 2048))
qi_expect_ge "ICMP echo replies" "$(board_stat icmp_echo_replies)" 7
qi_expect_ge "IPv4 datagrams reassembled (4000 B pings)" "$(board_stat ipv4_reassembled)" 2
qi_expect_eq "UDP datagrams echoed" "$(board_stat 'service udp_echoed')" "$UDP_COUNT"
qi_expect_eq "TCP bytes echoed" "$(board_stat 'service tcp_echoed_bytes')" $((CONNS * MIB))
qi_expect_eq "HTTP responses" "$(board_stat 'service http_responses')" 1
while read -r _ name count; do
  qi_expect_ge "drop $name counted" "$(awk -v k="$name" '{ sub(/\r$/, "") } $1 == "drop" && $2 == k { v = $3 } END { print v + 0 }' "$QI_TMP/stats")" "$count"
done < <(grep '^expect ' "$QI_TMP/bad.txt")
qi_finish
