#!/usr/bin/env bash
# tests/board/board_remote.sh BUILD_DIR [BOARD_BUILD_DIR]: remote specialization end to
# end. The Cortex-M3 board (quasi-board-echo in qemu-system-arm, LAN9118 on a tap) asks
# quasi-specd (a Linux process in the namespace, kernel sockets) for the specialized
# send path of its UDP socket to the kernel's port 9, over the board's own TCP, runs
# the thumbv7m code it gets from its code buffer and streams datagrams through it.
#
# Namespace quasi-board-<pid>, tap qbtap1: kernel and quasi-specd 198.18.51.1/24, board
# 198.18.51.2/24; device 7 with a fresh random key. Checks: the handle became
# specialized, its first 8 sends were verified against the generic path's frames and
# matched, the rest ran specialized, the kernel's sink got the datagrams, quasi-specd
# logged the request, and QEMU exits 0 at q (no heap allocation after start-up).
# BUILD_DIR must hold apps/quasi-specd (a QUASI_JIT build); BOARD_BUILD_DIR defaults to
# BUILD_DIR-board and is (re)built with scripts/board.sh build.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../interop/interop_common.sh
source "$HERE/../interop/interop_common.sh"
# shellcheck source=board_common.sh
source "$HERE/board_common.sh"
qi_init board_remote "${1:-}"
BOARD_BUILD="${2:-${QI_BUILD}-board}"
SPECD="$QI_BUILD/apps/quasi-specd"
[[ -x "$SPECD" ]] || { printf '[%s] error: %s is not built (a QUASI_JIT build)\n' "$QI_NAME" "$SPECD" >&2; exit 2; }
for t in qemu-system-arm mkfifo od; do
  command -v "$t" >/dev/null || { printf '[%s] error: required tool %s is missing\n' "$QI_NAME" "$t" >&2; exit 2; }
done

KIP=198.18.51.1
BIP=198.18.51.2
TAP=qbtap1
SENDS=1000

qb_build_firmware "$BOARD_BUILD"
qb_netns "$TAP" "$KIP/24"

KEY="$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"
printf '{"devices": [{"id": 7, "key": "%s"}]}\n' "$KEY" >"$QI_TMP/keys.json"
ip netns exec "$NS" timeout --kill-after=5 150 "$SPECD" --listen "$KIP:7700" --keys "$QI_TMP/keys.json" \
  >"$QI_TMP/specd.out" 2>"$QI_TMP/specd.log" &
SPECD_PID=$!
qnetns_on_exit "kill $SPECD_PID 2>/dev/null"

# The kernel's sink on port 9 (a closed port would answer with ICMP errors, which the
# board's socket reports and its handle passes to the generic path): counts datagrams.
ip netns exec "$NS" timeout 120 python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
s.bind((sys.argv[1], 9))
s.settimeout(30)
n = 0
try:
    while True:
        s.recv(2048)
        n += 1
        if n % 100 == 0:
            open(sys.argv[2], "w").write(str(n))
        s.settimeout(5)
except socket.timeout:
    pass
open(sys.argv[2], "w").write(str(n))
' "$KIP" "$QI_TMP/sink.count" &
SINK_PID=$!
qnetns_on_exit "kill $SINK_PID 2>/dev/null"

qb_boot "$TAP" "$BIP" "$KIP" --arg "specd=$KIP:7700" --arg "key=$KEY" --arg device=7
qi_check "ping the board" ip netns exec "$NS" ping -c 2 -i 0.2 -W 2 "$BIP"

qi_step "r: the board asks quasi-specd for its UDP handle and sends $SENDS datagrams through it"
printf r >&7
qwait_for "grep -q 'quasi-board: remote:' '$UART_LOG'" 30 || { cat "$QI_TMP/specd.log"; qi_die "no remote line on the UART"; }
LINE="$(grep 'quasi-board: remote:' "$UART_LOG" | tail -n 1 | tr -d '\r')"
echo "$LINE"
field() { awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }' <<<"$LINE"; }
qi_expect_eq "handle specialized" "$(field specialized)" 1
qi_expect_eq "verify mode caught nothing" "$(field verify_failed)" 0
qi_expect_eq "sends verified against the generic path" "$(field verified_sends)" 8
qi_expect_eq "sends through the specialized code (verified ones included)" "$(field specialized_sends)" "$SENDS"
qi_expect_ge "code bytes" "$(field code_bytes)" 1
qi_step "request to usable handle: $(field usable_us) us (QEMU TCG on a shared machine)"
qi_step "quasi-specd's log:"
cat "$QI_TMP/specd.log"
qi_expect_ge "requests quasi-specd logged for device 7" "$(grep -c 'device 7' "$QI_TMP/specd.log")" 1

qwait_for "kill -0 $SINK_PID 2>/dev/null && test \"\$(cat '$QI_TMP/sink.count' 2>/dev/null || echo 0)\" -ge $SENDS" 15 || true
got="$(cat "$QI_TMP/sink.count" 2>/dev/null || echo 0)"
qi_expect_ge "datagrams at the kernel's sink" "$got" "$SENDS"

printf q >&7
rc=0
wait "$QEMU_PID" || rc=$?
qi_expect_eq "QEMU exit status (0: heap flat at q)" "$rc" 0
qi_finish
