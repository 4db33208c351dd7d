# shellcheck shell=bash
#
# tests/interop/tcp_common.sh: shared code of the TCP interop scripts (tcp_bulk.sh,
# tcp_faults.sh, tcp_many.sh, tcp_http.sh, tcp_halfclose.sh). Sourced, never run. It
# sources interop_common.sh (namespaces, quasi-echo start/stop, checks, statistics) and adds:
#
#   qt_init NAME "$@"        qi_init plus the TCP binaries: QT_CLIENT (quasi_tcp_client),
#                            QT_HTTPD (quasi-httpd), QT_PEER (tcp_peer.py)
#   qt_kernel_cubic NS       ask for CUBIC in NS (the machine default is bbr). The sysctl
#                            only works if the host allows cubic for namespaces; tcp_peer.py
#                            also sets it per socket (root has CAP_NET_ADMIN), which works.
#   qt_start_kernel_server NS ADDR PORT SECONDS
#                            tcp_peer.py echo-server in NS (background, bounded);
#                            QT_SERVER_LOG is its per-connection log
#   qt_server_conn CLIENT_LOG
#                            the server's log line about the connection quasi_tcp_client
#                            reported in CLIENT_LOG (matched by port; waits <= 5 s)
#   qt_field LINE KEY        value of KEY=VALUE in a summary line ("" if absent)
#   qt_stat_in FILE NAME     a counter from a statistics block in FILE (0 if absent)
#   qt_drop_in FILE NAME     a drop reason count from the same
#   qt_mbps BYTES SECONDS    MB/s (10^6 bytes) with one decimal
#   qt_capture_start NS DEV NAME / qt_capture_stop
#                            with QUASI_INTEROP_PCAP_DIR set: tcpdump -s 160 of TCP on DEV
#                            inside NS into $QUASI_INTEROP_PCAP_DIR/NAME.pcap (bounded
#                            by timeout; for debugging failures); otherwise nothing
#
# Network safety: as interop_common.sh: only the test's own namespace, addresses in
# 198.18.0.0/15 (qnet_assert_safe_addr), every traffic command bounded in time.

# shellcheck source-path=SCRIPTDIR source=interop_common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/interop_common.sh"

QT_SERVER_PID=""
QT_SERVER_LOG=""

qt_init() {
  qi_init "$@"
  # shellcheck disable=SC2034  # used by the scripts that source this file
  QT_CLIENT="$QI_BUILD/tests/interop/quasi_tcp_client"
  # shellcheck disable=SC2034
  QT_HTTPD="$QI_BUILD/apps/quasi-httpd"
  QT_PEER="$QI_HERE/tcp_peer.py"
  [[ -f "$QT_PEER" ]] || { printf '[%s] error: %s is missing\n' "$QI_NAME" "$QT_PEER" >&2; exit 2; }
}

# qt_require_bin PATH...: fail (exit 2) unless each binary is built.
qt_require_bin() {
  local b
  for b in "$@"; do
    [[ -x "$b" ]] || { printf '[%s] error: %s is not built\n' "$QI_NAME" "$b" >&2; exit 2; }
  done
}

qt_kernel_cubic() {
  local ns="$1"
  if qnetns_sysctl "$ns" net.ipv4.tcp_congestion_control=cubic 2>/dev/null; then
    qi_step "kernel congestion control in $ns: cubic (sysctl)"
  else
    qi_step "kernel congestion control in $ns: sysctl refused (cubic is not in the host's" \
      "tcp_allowed_congestion_control); tcp_peer.py sets TCP_CONGESTION=cubic per socket instead"
  fi
}

qt_start_kernel_server() {
  local ns="$1" addr="$2" port="$3" secs="$4"
  qnet_assert_safe_addr "$addr"
  QT_SERVER_LOG="$QI_TMP/kernel-server.log"
  : >"$QT_SERVER_LOG"
  _qnetns_check_ns "$ns" || qi_die "bad namespace $ns"
  ip netns exec "$ns" timeout --kill-after=5 "$secs" python3 "$QT_PEER" echo-server --bind "$addr" --port "$port" \
    --log "$QT_SERVER_LOG" --deadline "$secs" >"$QI_TMP/kernel-server.out" 2>&1 &
  # shellcheck disable=SC2034  # for scripts that want to wait for it
  QT_SERVER_PID=$!
  qwait_for "grep -q 'echo-server listening' '$QT_SERVER_LOG'" 10 ||
    qi_die "kernel echo server did not start: $(cat "$QI_TMP/kernel-server.out")"
  qi_step "kernel echo server (tcp_peer.py) on $addr:$port"
}

qt_server_conn() {
  local port
  port="$(sed -n 's/^quasi_tcp_client: [0-9.]*:\([0-9]*\) -> .* connected in .*/\1/p' "$1" | head -n 1)"
  [[ -n "$port" ]] || return 0
  qwait_for "grep -q '^tcp_peer: conn [0-9]* from [0-9.]*:$port ' '$QT_SERVER_LOG'" 5 0.05 || true
  grep "^tcp_peer: conn [0-9]* from [0-9.]*:$port " "$QT_SERVER_LOG" | tail -n 1
}

qt_field() {
  local line="$1" key="$2"
  sed -n "s/.* $key=\([^ ]*\).*/\1/p" <<<" $line" | head -n 1
}

qt_stat_in() {
  awk -v n="$2" '$1 == n && NF == 2 { v = $2 } END { print v + 0 }' "$1" 2>/dev/null || echo 0
}

qt_drop_in() {
  awk -v n="$2" '$1 == "drop" && $2 == n { v = $3 } END { print v + 0 }' "$1" 2>/dev/null || echo 0
}

qt_mbps() {
  awk -v b="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.1f", b / 1e6 / s; else printf "0" }'
}

QT_CAPTURE_PID=""
qt_capture_start() {
  local ns="$1" dev="$2" name="$3" dir="${QUASI_INTEROP_PCAP_DIR:-}"
  [[ -n "$dir" ]] || return 0
  command -v tcpdump >/dev/null || { qi_step "QUASI_INTEROP_PCAP_DIR set but tcpdump missing"; return 0; }
  mkdir -p "$dir"
  _qnetns_check_ns "$ns" || return 1
  ip netns exec "$ns" timeout 600 tcpdump -i "$dev" -B 65536 -s 160 -U -w "$dir/$name.pcap" tcp \
    >"$QI_TMP/tcpdump-$name.log" 2>&1 &
  QT_CAPTURE_PID=$!
  # tcpdump prints "listening on" once the capture runs.
  qwait_for "grep -q 'listening on' '$QI_TMP/tcpdump-$name.log'" 5 0.05 || true
  qi_step "capturing to $dir/$name.pcap"
}

qt_capture_stop() {
  [[ -n "$QT_CAPTURE_PID" ]] || return 0
  sleep 0.5  # let tcpdump drain its buffer
  kill -INT "$QT_CAPTURE_PID" 2>/dev/null
  wait "$QT_CAPTURE_PID" 2>/dev/null
  QT_CAPTURE_PID=""
}

# qt_start_httpd NS TAP CIDR [EXTRA_ARGS...]: start quasi-httpd on port 80 inside NS,
# its output in $HTTPD_LOG, its pid in $HTTPD_PID; the namespace cleanup stops it.
qt_start_httpd() {
  local ns="$1" tap="$2" cidr="$3"
  shift 3
  qnet_assert_safe_addr "$cidr"
  HTTPD_LOG="$QI_TMP/quasi-httpd.log"
  local -a link
  mapfile -t link < <(qi_link_args "$tap")
  qi_step "starting quasi-httpd in $ns: --ip $cidr --port 80 $* ${link[*]}"
  ip netns exec "$(qi_quasi_ns "$ns")" "$QT_HTTPD" --ip "$cidr" --port 80 "$@" "${link[@]}" >"$HTTPD_LOG" 2>&1 &
  HTTPD_PID=$!
  qwait_for "grep -q 'quasi-httpd: http://' '$HTTPD_LOG' || ! kill -0 $HTTPD_PID" 10 || qi_die "quasi-httpd did not start"
  kill -0 "$HTTPD_PID" 2>/dev/null || { cat "$HTTPD_LOG"; qi_die "quasi-httpd exited at start"; }
  qi_wait_link_up "$ns" "$tap"
  qnetns_on_exit 'qt_stop_httpd'
}

# qt_stop_httpd: SIGTERM, then up to 5 s for it to print its statistics and exit;
# non-zero when it had to be killed or exited with an error.
qt_stop_httpd() {
  [[ -n "${HTTPD_PID:-}" ]] || return 0
  kill -TERM "$HTTPD_PID" 2>/dev/null
  local i rc=0
  for ((i = 0; i < 50; i++)); do
    kill -0 "$HTTPD_PID" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$HTTPD_PID" 2>/dev/null; then
    kill -KILL "$HTTPD_PID" 2>/dev/null
    rc=1
  fi
  wait "$HTTPD_PID" 2>/dev/null || rc=$?
  HTTPD_PID=""
  return "$rc"
}
