#!/usr/bin/env bash
# tests/interop/tcp_halfclose.sh BUILD_DIR: quasi half-closes (shutdown(SHUT_WR)) while the
# kernel's reply is still arriving; every byte of the reply must still be readable.
#
# Namespace quasi-tcphalf-<pid>, tap qtap0: kernel 198.18.24.1/24, quasi 198.18.24.2/24.
# quasi_tcp_client against tcp_peer.py echo-server (kernel) on 198.18.24.1:5001, with
# --shutdown after-send: quasi sends its FIN right after its last byte, so the kernel's
# FIN arrives (quasi: FIN-WAIT-2 -> TIME-WAIT) while echoed data sits unread in quasi's
# receive buffer. RFC 9293 3.10.7.4: data queued for the user stays readable after the
# FIN; recv returns 0 only once it is drained.
#  1. deterministic: 64 KiB, no reads until 300 ms after the half-close (the whole echo
#     and the FIN arrive while the application is not reading);
#  2. realistic: 8 MiB, reading concurrently with sending.
# Each: the kernel received every byte (SHA-256), and quasi read every byte back then EOF.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=tcp_common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/tcp_common.sh"
qt_init tcp_halfclose "$@"
qt_require_bin "$QT_CLIENT"

KIP=198.18.24.1
QIP=198.18.24.2
TAP=qtap0
PORT=5001

qnetns_create tcphalf NS || qi_die "cannot create namespace"
qnetns_tap "$NS" "$TAP" "$KIP/24" || qi_die "cannot create tap"
qt_kernel_cubic "$NS"
qt_start_kernel_server "$NS" "$KIP" "$PORT" 60

run_case() {  # run_case N DESC BYTES EXTRA_ARGS...
  local n="$1" desc="$2" bytes="$3"
  shift 3
  local out="$QI_TMP/client-$n.log" rc sum conn
  qi_step "$n. $desc: $bytes bytes, quasi_tcp_client --shutdown after-send $*"
  qrun_bounded 40 ip netns exec "$NS" "$QT_CLIENT" --tap "$TAP" --ip "$QIP/24" --server "$KIP:$PORT" \
    --bytes "$bytes" --seed "$((40 + n))" --seconds 30 --shutdown after-send "$@" >"$out" 2>&1
  rc=$?
  sed '/^stack statistics:/,$d' "$out"
  sum="$(grep '^quasi_tcp_client: \(PASS\|FAIL\):' "$out" | tail -n 1)"
  conn="$(qt_server_conn "$out")"
  echo "$conn"
  qi_check "$desc: the kernel received all $bytes bytes intact (SHA-256)" \
    test "$(qt_field "$conn" bytes)" == "$bytes" -a -n "$(qt_field "$sum" sha256_sent)" -a \
    "$(qt_field "$sum" sha256_sent)" == "$(qt_field "$conn" sha256)"
  qi_check "$desc: quasi read back all $bytes bytes before EOF (received=$(qt_field "$sum" received))" \
    test "$(qt_field "$sum" received)" == "$bytes" -a "$(qt_field "$sum" eof)" == 1
  qi_check "$desc: quasi_tcp_client exit status 0 (was $rc)" test "$rc" -eq 0
}

run_case 1 "FIN arrives while the echo is unread" 65536 --hold-reads-ms 300
run_case 2 "half-close while reading concurrently" $((8 << 20))
qi_finish
