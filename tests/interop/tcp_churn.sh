#!/usr/bin/env bash
# tests/interop/tcp_churn.sh BUILD_DIR: connection churn against the kernel, both roles.
#
# Namespace quasi-tcpchurn-<pid>, tap qtap0: kernel 198.18.29.1/24, quasi 198.18.29.2/24.
#  1. ApacheBench without keep-alive, QUASI_CHURN_REQUESTS (default 100,000) requests of
#     /bytes/512, 50 at a time, against quasi-httpd with a socket table of 512: quasi
#     closes first (HTTP/1.0), so every connection leaves a TIME-WAIT record on quasi's
#     side (the table of 65,536 retires its oldest early when full), far more than the
#     socket table holds. Every request must be answered: ab's Complete requests ==
#     QUASI_CHURN_REQUESTS, Failed requests 0, no non-2xx; quasi sends no RST and drops
#     no SYN for want of a socket (tcp_no_memory 0).
#  2. quasi_tcp_client --churn QUASI_CHURN_CLIENT (default 20,000) short connections, 16
#     at a time, to the kernel's echo server (tcp_peer.py): quasi closes first, so beyond
#     the 16,384 ephemeral ports its tuples come back while their records wait, which
#     RFC 6191 decides (time_wait_reused > 0). None refused or reset, and the kernel
#     logs every connection with error=none.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=tcp_common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/tcp_common.sh"
qt_init tcp_churn "$@"
qt_require_bin "$QT_HTTPD" "$QT_CLIENT"
command -v ab >/dev/null || { printf '[%s] error: ab (apache2-utils) is missing; run scripts/setup.sh test\n' "$QI_NAME" >&2; exit 2; }

KIP=198.18.29.1
QIP=198.18.29.2
TAP=qtap0
REQUESTS="${QUASI_CHURN_REQUESTS:-100000}"
CLIENT_CONNS="${QUASI_CHURN_CLIENT:-20000}"
ECHO_PORT=7

qnetns_create tcpchurn NS || qi_die "cannot create namespace"
qnetns_tap "$NS" "$TAP" "$KIP/24" || qi_die "cannot create tap"
# ab reuses its ephemeral ports many times over 100,000 connections: quasi's records
# must let them back in (RFC 6191), the kernel's range must not run dry meanwhile.
qnetns_sysctl "$NS" net.ipv4.ip_local_port_range="10000 65000" 2>/dev/null || true

# ---- 1. ab against quasi-httpd --max-sockets 512 ----
qt_start_httpd "$NS" "$TAP" "$QIP/24" --max-sockets 512 --seconds 150

ab_out="$QI_TMP/ab.txt"
qi_step "ab -n $REQUESTS -c 50 http://$QIP/bytes/512 (no keep-alive)"
qrun_bounded 120 ip netns exec "$NS" ab -q -r -n "$REQUESTS" -c 50 -s 10 "http://$QIP/bytes/512" >"$ab_out" 2>&1
rc=$?
grep -E '^(Complete|Failed|Non-2xx|Requests per second|Time taken)' "$ab_out" | sed 's/^/  /'
complete="$(sed -n 's/^Complete requests: *\([0-9]*\).*/\1/p' "$ab_out")"
failed="$(sed -n 's/^Failed requests: *\([0-9]*\).*/\1/p' "$ab_out")"
non2xx="$(sed -n 's/^Non-2xx responses: *\([0-9]*\).*/\1/p' "$ab_out")"
rps="$(sed -n 's/^Requests per second: *\([0-9.]*\).*/\1/p' "$ab_out")"
qi_check "ab exit 0 (was $rc)" test "$rc" -eq 0
qi_expect_eq "ab: complete requests" "${complete:-0}" "$REQUESTS"
qi_expect_eq "ab: failed requests" "${failed:-1}" 0
qi_expect_eq "ab: non-2xx responses" "${non2xx:-0}" 0

qi_step "stopping quasi-httpd for its statistics"
qi_check "quasi-httpd exits cleanly on SIGTERM" qt_stop_httpd
stats="$QI_TMP/httpd-stats.txt"
sed -n '/^quasi-httpd: [0-9]* connections accepted/,$p' "$HTTPD_LOG" >"$stats"
sed 's/^/  /' "$stats" | grep -E 'accepted|tcp_time_wait|tcp_no_memory|tcp_resets|tcp_established|syn_cookies' || true
qi_expect_ge "quasi-httpd: TIME-WAIT records entered" "$(qt_stat_in "$stats" tcp_time_wait_entered)" "$REQUESTS"
qi_expect_eq "quasi-httpd: SYNs dropped for want of a socket (tcp_no_memory)" "$(qt_drop_in "$stats" tcp_no_memory)" 0
qi_expect_eq "quasi-httpd: tcp_resets_sent" "$(qt_stat_in "$stats" tcp_resets_sent)" 0
bad="$(qi_bad_drops_in "$stats")"
qi_check "quasi-httpd: no drops that mean malformed or mishandled packets${bad:+: $bad}" test -z "$bad"
qi_step "quasi-httpd: ${rps:-?} requests/s over $REQUESTS connections; TIME-WAIT records reused" \
  "$(qt_stat_in "$stats" tcp_time_wait_reused), retired early $(qt_stat_in "$stats" tcp_time_wait_retired_early)"

# ---- 2. quasi_tcp_client --churn against the kernel's echo server ----
qt_start_kernel_server "$NS" "$KIP" "$ECHO_PORT" 100
client_log="$QI_TMP/churn-client.log"
qi_step "quasi_tcp_client --churn $CLIENT_CONNS --concurrency 16 to $KIP:$ECHO_PORT"
qrun_bounded 100 ip netns exec "$NS" "$QT_CLIENT" --tap "$TAP" --ip "$QIP/24" --server "$KIP:$ECHO_PORT" \
  --churn "$CLIENT_CONNS" --concurrency 16 --seconds 90 >"$client_log" 2>&1
rc=$?
sum="$(grep '^quasi_tcp_client: churn' "$client_log" | tail -n 1)"
printf '  %s\n' "${sum:-no summary}"
grep -E 'connection failed' "$client_log" | head -n 5 | sed 's/^/  /'
qi_check "quasi_tcp_client --churn exit 0 (was $rc)" test "$rc" -eq 0
qi_expect_eq "client: connections completed" "$(qt_field "$sum" completed)" "$CLIENT_CONNS"
qi_expect_eq "client: refused" "$(qt_field "$sum" refused)" 0
qi_expect_eq "client: reset" "$(qt_field "$sum" reset)" 0
qi_expect_eq "client: other errors" "$(qt_field "$sum" other_errors)" 0
if ((CLIENT_CONNS > 16384)); then
  qi_expect_ge "client: tuples taken back from TIME-WAIT records (RFC 6191)" "$(qt_field "$sum" time_wait_reused)" 1
fi
qwait_for "test \$(grep -c '^tcp_peer: conn ' '$QT_SERVER_LOG') -ge $CLIENT_CONNS" 10 || true
served="$(grep -c '^tcp_peer: conn .* eof=1 error=none' "$QT_SERVER_LOG")"
qi_expect_eq "kernel echo server: connections served to EOF without error" "$served" "$CLIENT_CONNS"
qi_finish
