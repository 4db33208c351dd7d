#!/usr/bin/env bash
# tests/interop/tcp_http.sh BUILD_DIR: real HTTP clients (curl, wrk) against quasi-httpd.
#
# Namespace quasi-tcphttp-<pid>, tap qtap0: kernel 198.18.23.1/24, quasi-httpd on
# 198.18.23.2/24 port 80.
#  1. curl GET / : status 200 and the page.
#  2. curl GET /bytes/33554432 (32 MiB): its SHA-256 equals the digest tcp_peer.py
#     http-digest computes from the documented formula (byte i = top byte of
#     (i * 2654435761) mod 2^32), and the size is exact.
#  3. wrk -t2 -c64 -d10s on /bytes/1024 (keep-alive): no "Socket errors" (connect,
#     read, write, timeout all 0), no "Non-2xx or 3xx responses", some requests done.
# Kernel: CUBIC where the sysctl is allowed (curl and wrk cannot be told per socket).
# QUASI_TCP_HTTP_BYTES and QUASI_TCP_HTTP_WRK_SECONDS replace 32 MiB and 10 s (ctest's
# dpdk2_tcp_http: 4 MiB and 3 s).
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=tcp_common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/tcp_common.sh"
qt_init tcp_http "$@"
qt_require_bin "$QT_HTTPD"
for t in curl wrk sha256sum; do
  command -v "$t" >/dev/null || { printf '[%s] error: required tool %s is missing\n' "$QI_NAME" "$t" >&2; exit 2; }
done

KIP=198.18.23.1
QIP=198.18.23.2
TAP=qtap0
BIG="${QUASI_TCP_HTTP_BYTES:-33554432}"  # the body curl checks (less in the dpdk2_ run)
WRK_SECONDS="${QUASI_TCP_HTTP_WRK_SECONDS:-10}"
WRK_PATH=/bytes/1024

qnetns_create tcphttp NS || qi_die "cannot create namespace"
qi_link "$NS" "$TAP" "$KIP/24" || qi_die "cannot create the link"
qt_kernel_cubic "$NS"

# The expected digest, computed meanwhile (a few seconds of Python).
digest_file="$QI_TMP/expected.sha256"
timeout 60 python3 "$QT_PEER" http-digest "$BIG" >"$digest_file" 2>&1 &
digest_pid=$!
qnetns_on_exit "kill $digest_pid 2>/dev/null"

qt_start_httpd "$NS" "$TAP" "$QIP/24" --seconds 100

# ---- 1. GET / ----
page="$QI_TMP/index.html"
code="$(qrun_bounded 30 ip netns exec "$NS" curl -s --max-time 20 -o "$page" -w '%{http_code}' "http://$QIP/")"
qi_check "curl / : HTTP 200 (got ${code:-none})" test "${code:-}" == 200
qi_check "curl / : the page names quasi-httpd" grep -q 'quasi-httpd' "$page"

# ---- 2. GET /bytes/33554432 ----
body_info="$QI_TMP/big.txt"
qi_step "curl /bytes/$BIG"
t0=$EPOCHREALTIME
qrun_bounded 130 ip netns exec "$NS" bash -c \
  "curl -s --max-time 120 -w '%{http_code} %{size_download}\n' -o >(sha256sum >'$QI_TMP/big.sha256') 'http://$QIP/bytes/$BIG'" \
  >"$body_info" 2>&1
rc=$?
t1=$EPOCHREALTIME
sleep 0.2  # sha256sum in the process substitution finishes after curl
read -r big_code big_size <"$body_info"
got="$(awk '{print $1}' "$QI_TMP/big.sha256" 2>/dev/null)"
wait "$digest_pid"
want="$(head -n 1 "$digest_file")"
secs="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')"
qi_step "curl: status ${big_code:-?}, ${big_size:-?} bytes in $secs s ($(qt_mbps "${big_size:-0}" "$secs") MB/s); sha256 $got; expected $want"
qi_check "curl /bytes/$BIG: exit 0 (was $rc) and HTTP 200" test "$rc" -eq 0 -a "${big_code:-}" == 200
qi_check "curl /bytes/$BIG: $BIG bytes" test "${big_size:-}" == "$BIG"
qi_check "curl /bytes/$BIG: SHA-256 equals the documented pattern's" test -n "$want" -a "$got" == "$want"

# ---- 3. wrk ----
wrk_out="$QI_TMP/wrk.txt"
qi_step "wrk -t2 -c64 -d${WRK_SECONDS}s http://$QIP$WRK_PATH"
qrun_bounded $((WRK_SECONDS + 30)) ip netns exec "$NS" wrk -t2 -c64 "-d${WRK_SECONDS}s" --timeout 5s "http://$QIP$WRK_PATH" >"$wrk_out" 2>&1
rc=$?
sed 's/^/  /' "$wrk_out"
rps="$(awk '/^Requests\/sec:/ {print $2}' "$wrk_out")"
requests="$(sed -n 's/^ *\([0-9]*\) requests in .*/\1/p' "$wrk_out")"
sock_err="$(grep 'Socket errors:' "$wrk_out")"
non2xx="$(sed -n 's/^ *Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' "$wrk_out")"
sock_sum=0
if [[ -n "$sock_err" ]]; then
  sock_sum="$(grep -o '[a-z]* [0-9]*' <<<"${sock_err#*:}" | awk '{s += $2} END {print s + 0}')"
fi
qi_check "wrk exit 0 (was $rc)" test "$rc" -eq 0
qi_check "wrk: zero socket errors${sock_err:+ ($sock_err)}" test "$sock_sum" -eq 0
qi_check "wrk: zero non-2xx responses${non2xx:+ ($non2xx)}" test "${non2xx:-0}" -eq 0
qi_expect_ge "wrk: requests completed" "${requests:-0}" 1000
qi_step "wrk: ${rps:-?} requests/s (${requests:-?} requests in $WRK_SECONDS s, 64 connections, $WRK_PATH)"

qi_step "stopping quasi-httpd for its statistics"
qi_check "quasi-httpd exits cleanly on SIGTERM" qt_stop_httpd
stats="$QI_TMP/httpd-stats.txt"
sed -n '/^quasi-httpd: [0-9]* connections accepted/,$p' "$HTTPD_LOG" >"$stats"
sed 's/^/  /' "$stats"
# wrk ends by closing its 64 connections with responses still in flight, so the kernel
# resets them (tcp_resets_rx, then RSTs that find only the listener): expected. quasi
# itself has no reason to reset anything.
qi_expect_eq "quasi-httpd: tcp_resets_sent" "$(qt_stat_in "$stats" tcp_resets_sent)" 0
qi_expect_cores_carried "$stats" quasi-httpd
qi_step "quasi-httpd: RSTs received $(qt_stat_in "$stats" tcp_resets_rx) (wrk's closes), retransmits $(qt_stat_in "$stats" tcp_retransmits)"
bad="$(qi_bad_drops_in "$stats")"
qi_check "quasi-httpd: no drops that mean malformed or mishandled packets${bad:+: $bad}" test -z "$bad"
qi_finish
