#!/usr/bin/env bash
# tests/board/board_remote.sh BUILD_DIR [BOARD_BUILD_DIR]: remote specialization end to
# end. The Cortex-M3 board (quasi-board-echo in qemu-system-arm, LAN9118 on a tap) asks
# quasi-specd (a Linux process in the namespace, kernel sockets) for the specialized
# send path of its UDP socket to the kernel's port 9 and of a TCP connection to the
# kernel's port 5001, over the board's own TCP, runs the thumbv7m code it gets from
# its code buffer and streams through it: 20,000 datagrams, 4 MiB. Mid-stream the board adds a route (both) and gets an
# ICMP "fragmentation needed" (TCP: path MTU 1280, the MSS falls): each handle falls
# back to the generic path, asks again and runs the new code.
#
# Namespace quasi-board-<pid>, tap qbtap1: kernel and quasi-specd 198.18.51.1/24, board
# 198.18.51.2/24; device 7 with a fresh random key. Checks: each handle became
# specialized, its first 8 sends per installed code were verified against the generic
# path's frames and matched, the sends ran specialized (the counters), the kernel's
# UDP sink got every datagram and its TCP sink every byte (SHA-256 of the pattern),
# quasi-specd logged the requests, and QEMU exits 0 at q (no heap allocation after
# start-up). Prints request-to-usable-handle latencies by the board's clock.
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
SENDS=20000
TCP_BYTES=$((4 << 20))

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
s.setsockopt(socket.SOL_SOCKET, 33, 64 << 20)  # SO_RCVBUFFORCE (root): no datagram dropped at the sink
s.bind((sys.argv[1], 9))
open(sys.argv[2], "w").write("0")  # bound: the board may send
s.settimeout(60)
n = 0
try:
    while True:
        s.recv(2048)
        n += 1
        if n % 100 == 0:
            open(sys.argv[2], "w").write(str(n))
        s.settimeout(10)
except socket.timeout:
    pass
open(sys.argv[2], "w").write(str(n))
' "$KIP" "$QI_TMP/sink.count" &
SINK_PID=$!
qnetns_on_exit "kill $SINK_PID 2>/dev/null"

# The kernel's TCP sink on port 5001: each connection read to EOF, "bytes sha256" appended.
ip netns exec "$NS" timeout 150 python3 -c '
import hashlib, socket, sys
l = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind((sys.argv[1], 5001))
l.listen(2)
open(sys.argv[2], "w").close()
l.settimeout(140)
try:
    while True:
        c, _ = l.accept()
        c.settimeout(60)
        h, n = hashlib.sha256(), 0
        try:
            while True:
                b = c.recv(1 << 16)
                if not b:
                    break
                h.update(b)
                n += len(b)
        except socket.timeout:
            pass
        with open(sys.argv[2], "a") as f:
            f.write("%d %s\n" % (n, h.hexdigest()))
        c.close()
except socket.timeout:
    pass
' "$KIP" "$QI_TMP/tcp.sink" &
TCP_SINK_PID=$!
qnetns_on_exit "kill $TCP_SINK_PID 2>/dev/null"
# The board's pattern: byte i is the top byte of i * 2654435761 mod 2^32.
TCP_SHA="$(python3 -c '
import hashlib, sys
n = int(sys.argv[1])
print(hashlib.sha256(bytes(((i * 2654435761) & 0xFFFFFFFF) >> 24 for i in range(n))).hexdigest())' "$TCP_BYTES")"

# QUASI_BOARD_ICOUNT=1: QEMU -icount shift=0, so ns_per_send (and 'u') count instructions.
ICOUNT=()
[[ "${QUASI_BOARD_ICOUNT:-0}" == 1 ]] && ICOUNT=(--icount)
qb_boot "$TAP" "$BIP" "$KIP" "${ICOUNT[@]}" --arg "specd=$KIP:7700" --arg "key=$KEY" --arg device=7
qi_check "ping the board" ip netns exec "$NS" ping -c 2 -i 0.2 -W 2 "$BIP"
qwait_for "test -s '$QI_TMP/sink.count'" 30 || qi_die "the kernel's UDP sink did not start"

# On a failure (qi_die, a failing qi_finish): the board's statistics ('s': the stack's
# counters and drops, the LAN9118's), its whole UART log, and the kernel's view: its
# TCP/IP counters and sockets in the namespace.
qi_test_diagnostics() {
  [[ -n "${UART_LOG:-}" ]] || return 0  # the board never booted
  if kill -0 "${QEMU_PID:-}" 2>/dev/null; then
    local before
    before="$(grep -c 'quasi-board: stats end' "$UART_LOG")"
    printf s >&7
    qwait_for "test \$(grep -c 'quasi-board: stats end' '$UART_LOG') -gt $before" 10 \
      || echo "(the board did not answer 's' within 10 s: busy in a step)"
  fi
  echo "----- the board's UART -----"
  tr -d '\r' <"$UART_LOG"
  echo "----- kernel: nstat -az -----"
  ip netns exec "$NS" nstat -asz 2>&1
  echo "----- kernel: ss -tani -----"
  ip netns exec "$NS" ss -tani 2>&1
  echo "----- quasi-specd's log -----"
  cat "$QI_TMP/specd.log"
}

field() { awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }' <<<"$LINE"; }
# remote_line PREFIX N: waits for the Nth UART line starting with PREFIX; sets LINE.
remote_line() {
  qwait_for "test \$(grep -c '$1' '$UART_LOG') -ge $2" 60 || qi_die "no line '$1' #$2 on the UART"
  LINE="$(grep "$1" "$UART_LOG" | sed -n "$2p" | tr -d '\r')"
  echo "$LINE"
}
qi_step "r: a UDP handle, $SENDS datagrams through it, a route added halfway"
printf r >&7
remote_line 'quasi-board: remote:' 1
UDP_COLD="$(field usable_us)" UDP_AGAIN="$(field again_us)" SPEC_NS="$(field ns_per_send)"
qi_expect_eq "udp: verify mode caught nothing" "$(field verify_failed)" 0
qi_expect_eq "udp: code installed again after the route change" "$(field installs)" 2
qi_expect_eq "udp: sends verified against the generic path (8 per installed code)" "$(field verified_sends)" 16
qi_expect_eq "udp: every send accounted for" $(($(field specialized_sends) + $(field generic_sends))) $((SENDS + 16))
# (generic while each request is answered: ~0.1-1 s of the stream, cold compiles the longest)
qi_expect_ge "udp: sends through the specialized code" "$(field specialized_sends)" $((SENDS / 2))
qi_expect_ge "udp: code bytes" "$(field code_bytes)" 1

qi_step "t: a TCP connection's handle, $TCP_BYTES bytes through it, a route added at 1/3, path MTU 1280 at 2/3"
printf t >&7
remote_line 'quasi-board: remote tcp:' 1
[[ "$LINE" == *"no connection"* ]] && qi_die "the board did not connect to the kernel's port 5001"
TCP_COLD="$(field usable_us)" TCP_AGAIN="$(field again_us)" TCP_HANDSHAKE="$(field handshake_us)"
qi_expect_eq "tcp: one full segment per message (the data MSS the handshake gave)" "$(field data_mss)" "$(field message)"
qi_expect_eq "tcp: bytes the board sent" "$(field bytes)" "$TCP_BYTES"
qi_expect_eq "tcp: verify mode caught nothing" "$(field verify_failed)" 0
qi_expect_eq "tcp: no send failed (errno)" "$(field send_errno)" 0
qi_expect_ge "tcp: code installed again after each change" "$(field installs)" 3
qi_expect_eq "tcp: the handle specialized at the end (the code for the MSS of 1240)" "$(field specialized)" 1
qi_expect_eq "tcp: the MSS after the ICMP (1280 - 40)" "$(field mss_after)" 1240
qi_expect_ge "tcp: messages through the specialized code" "$(field specialized_sends)" 1000
qi_expect_ge "tcp: code bytes" "$(field code_bytes)" 1
qwait_for "test -s '$QI_TMP/tcp.sink'" 30 || qi_die "the kernel's TCP sink reported no connection"
got="$(head -n 1 "$QI_TMP/tcp.sink")"
qi_check "tcp: bytes and SHA-256 at the kernel ($got)" test "$got" = "$TCP_BYTES $TCP_SHA"
# Cold: the first request (quasi-specd compiles). Cached: the request after the route
# change, the same context, which quasi-specd answers from its cache.
# TCP's handle is asked for during the handshake: its first figure runs from ESTABLISHED.
qi_step "request to usable handle, board clock (us): udp cold $UDP_COLD cached $UDP_AGAIN; tcp (asked in the handshake, $TCP_HANDSHAKE us) ESTABLISHED to usable, cold $TCP_COLD, cached $TCP_AGAIN"
printf u >&7  # the generic path timed the same way
qwait_for "grep -q 'quasi-board: udp_send' '$UART_LOG'" 30 || qi_die "no udp_send line on the UART"
GEN_NS="$(grep 'quasi-board: udp_send' "$UART_LOG" | tail -n 1 | awk '{ for (i = 1; i < NF; i++) if ($(i + 1) == "ns") print $i }')"
qi_step "per 64-byte send (instructions under QUASI_BOARD_ICOUNT=1, else ns): generic $GEN_NS, specialized $SPEC_NS"
qi_step "quasi-specd's log:"
cat "$QI_TMP/specd.log"
udp_log="$(grep -c 'device 7 .*: spec thumbv7m-none-eabi udp: ok' "$QI_TMP/specd.log") $(grep -c 'udp: ok (cached)' "$QI_TMP/specd.log")"
qi_check "UDP requests quasi-specd answered for device 7, the second from its cache ($udp_log)" test "$udp_log" = "2 1"
tcp_log="$(grep -c 'device 7 .*: spec thumbv7m-none-eabi tcp: ok' "$QI_TMP/specd.log") $(grep -c 'tcp: ok (cached)' "$QI_TMP/specd.log")"
qi_check "TCP requests quasi-specd answered for device 7, the one after the route change from its cache ($tcp_log)" \
  test "$tcp_log" = "3 1"

qwait_for "test \"\$(cat '$QI_TMP/sink.count' 2>/dev/null || echo 0)\" -ge $((SENDS + 16))" 15 || true  # ('u' adds more)
got="$(cat "$QI_TMP/sink.count" 2>/dev/null || echo 0)"
qi_expect_ge "datagrams at the kernel's sink" "$got" $((SENDS + 16))

printf q >&7
rc=0
wait "$QEMU_PID" || rc=$?
qi_expect_eq "QEMU exit status (0: heap flat at q)" "$rc" 0
qi_step "the board's clock: $(grep -m 1 'clock_held' "$UART_LOG" | tr -d '\r' | sed 's/^ *//')"
qi_finish
