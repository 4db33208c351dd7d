#!/usr/bin/env bash
# tests/interop/tcp_faults.sh BUILD_DIR [PROFILE...]: the tcp_bulk.sh transfers under
# faults; every byte intact, every transfer within its time limit.
#
# Two namespaces, so that loss on the kernel's side is real loss (see below):
#   quasi-tcpfaults-<pid>:  bridge br0 joining tap qtap0 (quasi 198.18.21.2/24 attaches
#                           here) and veth kv1;
#   quasi-tcpfaultsk-<pid>: the kernel endpoint, veth kv0 198.18.21.1/24 (peer of kv1),
#                           GSO off (gso_max_segs 1), so nft acts on single segments.
# Per profile, two transfers of 8 MiB each direction at once (64 MiB in tcp_bulk.sh; 8 MiB
# keeps the CI time bounded: at 5% loss or 40 ms RTT a transfer takes seconds, not ms):
#   server: tcp_peer.py echo-client (kernel) -> quasi-echo --tcp-port 7 [--impair ...]
#   client: quasi_tcp_client [--impair ...] -> tcp_peer.py echo-server (kernel) :5001
# Profiles (the impairment decorator, apps/impair_options.hpp, sits on quasi's tap and
# impairs both directions; seeds fixed per profile and direction, so runs repeat):
#   loss1        loss=1%
#   loss5        loss=5%
#   delay20reo10 delay=20ms (each way: 40 ms RTT) and reorder=10% (a frame held back
#                behind 1..3 later ones)
#   dup1         dup=1%
#   corrupt0.1   corrupt=0.1% (one bit flipped; checksums must catch every one)
#   nftloss1     1% loss by nftables netdev rules (numgen random mod 100 < 1 drop) on the
#                bridge's ingress hooks: kv1 (kernel -> quasi) and qtap0 (quasi -> kernel).
#                Not on the egress hook of the kernel's own device: there a drop is
#                reported to the sending socket at once (NET_XMIT_DROP), and the kernel's
#                TCP simply sends the segment again, so nothing is lost on the wire (seen
#                here: a 50% egress rule on the tap, 20 pings, 20 replies, 40 rule hits).
#   nftdup1      1% duplication by an nftables netdev rule on the kernel endpoint's egress
#                (kv0, dup to), kernel -> quasi only
# Each transfer: SHA-256 of the echo equals SHA-256 of the data sent (and, for quasi as
# client, the kernel's digest of what it received), EOF after exactly 8 MiB, done within
# the profile's limit, and no RST. Each profile also proves its fault happened and was
# handled (expect_fault_handled; all true on a clean link but these): the decorator's
# counters of its fault in both directions, or the nft rules' counters, are above zero,
# and so are the reactions: retransmissions by quasi and by the kernel after loss,
# out-of-order segments queued after reordering, duplicates discarded as out of window,
# corrupted frames caught by quasi's checksums. Printed per transfer: quasi's tcp_retransmits,
# tcp_rto_expiries and tcp_fast_retransmits (from its statistics at exit), the kernel's
# retransmissions (TCP_INFO tcpi_total_retrans of the kernel socket), the impairment
# counters, time and MB/s; a summary table at the end.
# Give profile names as extra arguments to run only those. With QUASI_INTEROP_PCAP_DIR=DIR
# each transfer is captured (tcpdump on the kernel side of the tap) into DIR/PROFILE-{server,client}.pcap.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=tcp_common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/tcp_common.sh"
qt_init tcp_faults "${1:-}"
shift || true
qt_require_bin "$QT_CLIENT"
command -v nft >/dev/null || qi_die "nft (nftables) is required for the kernel-side profiles"

KIP=198.18.21.1
QIP=198.18.21.2
TAP=qtap0
ECHO_PORT=7
SERVER_PORT=5001
# QUASI_FAULTS_MIB (default 8, CI): MiB each way per transfer; limits and the budget
# scale with it. QUASI_FAULTS_MIB=64 runs the full size of tcp_bulk.sh under every
# fault (192 s measured, most of it at 5% loss; all checks passed).
MIB="${QUASI_FAULTS_MIB:-8}"
[[ "$MIB" =~ ^[1-9][0-9]*$ ]] || qi_die "QUASI_FAULTS_MIB must be a positive integer, not '$MIB'"
BYTES=$((MIB << 20))
SCALE=$(((MIB + 7) / 8))
BUDGET=$((240 * SCALE))   # seconds for all profiles; later profiles are failed unrun beyond it

# name | decorator spec (both directions) | kernel-side nft rule | limit per transfer (s) |
# seed (the server run's decorator and data; the client run uses seed + 1)
PROFILES=(
  "loss1|loss=0.01||30|2102"
  "loss5|loss=0.05||60|2104"
  "delay20reo10|delay=20ms,reorder=0.1||45|2106"
  "dup1|dup=0.01||20|2108"
  "corrupt0.1|corrupt=0.001||20|2110"
  "nftloss1||loss 1|30|2112"
  "nftdup1||dup 1|20|2114"
)
if (($# > 0)); then
  selected=()
  for want in "$@"; do
    found=0
    for p in "${PROFILES[@]}"; do
      [[ "${p%%|*}" == "$want" ]] && selected+=("$p") && found=1
    done
    ((found)) || qi_die "unknown profile '$want'"
  done
  PROFILES=("${selected[@]}")
fi

qnetns_create tcpfaults NS || qi_die "cannot create namespace"
qnetns_create tcpfaultsk NSK || qi_die "cannot create namespace"
qnet_assert_safe_addr "$KIP/24"
{
  ip -n "$NS" link add br0 type bridge &&
    ip -n "$NS" tuntap add dev "$TAP" mode tap &&
    ip -n "$NS" link set "$TAP" master br0 &&
    ip -n "$NSK" link add kv0 type veth peer name kv1 netns "$NS" &&
    ip -n "$NS" link set kv1 master br0 &&
    ip -n "$NS" link set kv1 up &&
    ip -n "$NS" link set "$TAP" up &&
    ip -n "$NS" link set br0 up &&
    ip -n "$NSK" link set kv0 gso_max_segs 1 &&
    ip -n "$NSK" addr add "$KIP/24" dev kv0 &&
    ip -n "$NSK" link set kv0 up
} || qi_die "cannot build the bridge/veth topology"
qi_step "topology: $NSK kv0 $KIP <-veth-> kv1 [br0 in $NS] $TAP <-> quasi $QIP"
qt_kernel_cubic "$NSK"
qt_start_kernel_server "$NSK" "$KIP" "$SERVER_PORT" $((BUDGET + 60))

SUMMARY=()

# One line of the decorator counters from a log: "lost a/b dup c/d corrupted e/f reordered g/h" (rx/tx).
# RSTs quasi sent other than those answering segments for a connection it no longer
# has: with delay and reordering, the kernel's last ACKs can arrive after quasi closed
# (LAST-ACK -> CLOSED) and RFC 9293 3.10.7.1 answers them with a RST, as Linux does.
# A RST on a live connection is a failure.
rsts_to_live() {
  local sent late
  sent="$(qt_stat_in "$1" tcp_resets_sent)"
  late=$(($(qt_drop_in "$1" tcp_ack_to_listener) + $(qt_drop_in "$1" tcp_no_socket)))
  echo $((sent > late ? sent - late : 0))
}

impair_counts() {
  awk '/^impairment rx:/ { for (i = 3; i < NF; i += 2) rx[$i] = $(i + 1) }
       /^impairment tx:/ { for (i = 3; i < NF; i += 2) tx[$i] = $(i + 1) }
       END { if (length(rx)) printf "rx/tx lost %d/%d dup %d/%d corrupted %d/%d reordered %d/%d",
               rx["lost"], tx["lost"], rx["duplicated"], tx["duplicated"], rx["corrupted"], tx["corrupted"],
               rx["reordered"], tx["reordered"] }' "$1"
}

# Drops by which quasi caught damaged frames (bad checksums and other validation).
caught_damage() {
  awk '$1 == "drop" && $2 ~ /^(eth_|ipv4_too_short|ipv4_bad_|tcp_too_short|tcp_bad_|arp_too_short|arp_bad_|icmp_bad_|udp_bad_)/ { s += $3 }
       END { print s + 0 }' "$1"
}

# One decorator counter (rx|tx, e.g. lost) from a statistics block in FILE (0 if absent).
impair_count() {
  awk -v d="$2:" -v k="$3" '$1 == "impairment" && $2 == d { for (i = 3; i < NF; i += 2) if ($i == k) v = $(i + 1) }
       END { print v + 0 }' "$1"
}

# The kernel's TcpRetransSegs, TcpExtTCPTimeouts, D-SACKs sent for duplicates of data it
# had (TcpExtTCPDSACKOldSent) and segments it dropped for a bad checksum (TcpInCsumErrors,
# IpInHdrErrors) in the namespace ("R T D C").
kernel_counters() {
  ip netns exec "$NSK" nstat -asz TcpRetransSegs TcpExtTCPTimeouts TcpExtTCPDSACKOldSent TcpInCsumErrors IpInHdrErrors 2>/dev/null |
    awk '$1 == "TcpRetransSegs" { r = $2 } $1 == "TcpExtTCPTimeouts" { t = $2 } $1 == "TcpExtTCPDSACKOldSent" { d = $2 }
         $1 == "TcpInCsumErrors" || $1 == "IpInHdrErrors" { c += $2 } END { print r + 0, t + 0, d + 0, c + 0 }'
}

# The fault of each profile happened, and quasi and the kernel dealt with it: a profile
# whose fault never fired (a broken decorator or nft rule) or was never answered
# fails here, though every byte arrived. ROLE FILE KRTX: one transfer's statistics and
# the kernel socket's retransmissions.
expect_fault_handled() {
  local name="$1" role="$2" f="$3" krtx="${4:-0}"
  local kind="${name%%[0-9]*}" rtx rx tx
  rtx="$(qt_stat_in "$f" tcp_retransmits)"
  case "$kind" in
    loss)
      rx="$(impair_count "$f" rx lost)" tx="$(impair_count "$f" tx lost)"
      qi_expect_ge "$name, $role: frames the decorator dropped towards quasi" "$rx" 1
      qi_expect_ge "$name, $role: frames the decorator dropped from quasi" "$tx" 1
      qi_expect_ge "$name, $role: quasi retransmitted" "$rtx" 1
      qi_expect_ge "$name, $role: the kernel retransmitted" "$krtx" 1 ;;
    delay)
      rx="$(impair_count "$f" rx reordered)" tx="$(impair_count "$f" tx reordered)"
      qi_expect_ge "$name, $role: frames reordered towards quasi" "$rx" 1
      qi_expect_ge "$name, $role: frames reordered from quasi" "$tx" 1
      qi_expect_ge "$name, $role: frames delayed" "$(impair_count "$f" rx delayed)" 1
      qi_expect_ge "$name, $role: out-of-order segments quasi queued" "$(qt_stat_in "$f" tcp_out_of_order)" 1 ;;
    dup)
      rx="$(impair_count "$f" rx duplicated)" tx="$(impair_count "$f" tx duplicated)"
      qi_expect_ge "$name, $role: frames duplicated towards quasi" "$rx" 1
      qi_expect_ge "$name, $role: frames duplicated from quasi" "$tx" 1
      qi_expect_ge "$name, $role: duplicate segments quasi discarded (out of window)" \
        "$(qt_drop_in "$f" tcp_out_of_window)" 1 ;;
    corrupt)
      rx="$(impair_count "$f" rx corrupted)" tx="$(impair_count "$f" tx corrupted)"
      qi_expect_ge "$name, $role: frames corrupted (both directions)" $((rx + tx)) 1
      qi_expect_ge "$name, $role: corrupted frames quasi caught (${rx} corrupted towards it)" \
        "$(caught_damage "$f")" $((rx > 0 ? 1 : 0))
      qi_expect_ge "$name, $role: retransmissions (quasi + kernel) replaced damaged segments" $((rtx + krtx)) 1 ;;
  esac
}

run_profile() {
  local name="$1" spec="$2" nft="$3" limit=$(($4 * SCALE)) seed="$5"
  local seed_s="$seed" seed_c=$((seed + 1))
  local impair_s=() impair_c=()
  [[ -n "$spec" ]] && impair_s=(--impair "$spec,seed=$seed_s") && impair_c=(--impair "$spec,seed=$seed_c")
  qi_step "===== profile $name: ${spec:+decorator $spec}${nft:+kernel nft $nft}; $MIB MiB each way, limit ${limit}s per transfer ====="
  if [[ -n "$nft" ]]; then
    read -r kind pct <<<"$nft"
    if [[ "$kind" == loss ]]; then
      qnetns_nft_loss "$NS" kv1 "$pct" ingress || qi_die "nft loss rule failed"
      qnetns_nft_loss "$NS" "$TAP" "$pct" ingress || qi_die "nft loss rule failed"
    else
      qnetns_nft_dup "$NSK" kv0 "$pct" egress || qi_die "nft dup rule failed"
    fi
  fi
  local nstat_before
  nstat_before="$(kernel_counters)"

  # -- quasi as server --
  qi_start_echo "$NS" "$TAP" "$QIP/24" --tcp-port "$ECHO_PORT" --seconds $((limit + 30)) "${impair_s[@]}"
  local out="$QI_TMP/$name-server.log" rc sum
  qt_capture_start "$NS" "$TAP" "$name-server"
  qrun_bounded $((limit + 10)) ip netns exec "$NSK" python3 "$QT_PEER" echo-client --server "$QIP" --port "$ECHO_PORT" \
    --bytes "$BYTES" --seed "$seed_s" --deadline "$limit" >"$out" 2>&1
  rc=$?
  qt_capture_stop
  sed 's/^/  /' "$out"
  sum="$(grep '^tcp_peer: \(PASS\|FAIL\):' "$out" | tail -n 1)"
  qi_check "$name, quasi as server: $MIB MiB echoed intact within ${limit}s (tcp_peer.py exit $rc)" \
    test "$rc" -eq 0 -a -n "$(qt_field "$sum" sha256_sent)" -a "$(qt_field "$sum" sha256_sent)" == "$(qt_field "$sum" sha256_received)"
  qi_check "quasi-echo exits cleanly on SIGTERM" qi_stop_echo
  local st="$QI_TMP/$name-echo-stats.txt"
  qi_echo_stats >"$st"
  grep -E '^ *(tcp_|drop)|^impairment' "$st" | sed 's/^ */  quasi-echo: /'
  qi_expect_eq "$name, quasi as server: RSTs sent other than to segments after the close" "$(rsts_to_live "$st")" 0
  qi_expect_eq "$name, quasi as server: RSTs received" "$(qt_stat_in "$st" tcp_resets_rx)" 0
  local s_secs s_mbps s_rtx s_rto s_frx s_krtx s_imp s_caught
  s_secs="$(qt_field "$sum" elapsed_s)" s_mbps="$(qt_field "$sum" throughput_MBps)"
  s_rtx="$(qt_stat_in "$st" tcp_retransmits)" s_rto="$(qt_stat_in "$st" tcp_rto_expiries)"
  s_frx="$(qt_stat_in "$st" tcp_fast_retransmits)" s_krtx="$(qt_field "$sum" kernel_total_retrans)"
  s_imp="$(impair_counts "$st")" s_caught="$(caught_damage "$st")"

  # -- quasi as client --
  out="$QI_TMP/$name-client.log"
  qt_capture_start "$NS" "$TAP" "$name-client"
  qrun_bounded $((limit + 10)) ip netns exec "$NS" "$QT_CLIENT" --tap "$TAP" --ip "$QIP/24" \
    --server "$KIP:$SERVER_PORT" --bytes "$BYTES" --seed "$seed_c" --seconds "$limit" --shutdown after-echo \
    "${impair_c[@]}" >"$out" 2>&1
  rc=$?
  qt_capture_stop
  sed '/^stack statistics:/,$d; s/^/  /' "$out"
  grep -E '^ *(tcp_|drop)|^impairment' "$out" | sed 's/^ */  quasi_tcp_client: /'
  sum="$(grep '^quasi_tcp_client: \(PASS\|FAIL\):' "$out" | tail -n 1)"
  local conn
  conn="$(qt_server_conn "$out")"
  echo "  $conn"
  qi_check "$name, quasi as client: $MIB MiB echoed intact within ${limit}s (quasi_tcp_client exit $rc)" test "$rc" -eq 0
  qi_check "$name, quasi as client: the kernel received $MIB MiB with the digest quasi sent" \
    test "$(qt_field "$conn" bytes)" == "$BYTES" -a -n "$(qt_field "$sum" sha256_sent)" -a \
    "$(qt_field "$sum" sha256_sent)" == "$(qt_field "$conn" sha256)"
  # A transfer that failed earlier may leave its kernel connection retransmitting to a
  # port quasi no longer has: the next quasi_tcp_client rightly answers that with a RST.
  if ((QI_FAILS == 0)); then
    qi_expect_eq "$name, quasi as client: RSTs sent other than to segments after the close" "$(rsts_to_live "$out")" 0
  else
    qi_step "$name, quasi as client: RSTs sent $(qt_stat_in "$out" tcp_resets_sent) (not checked: an earlier transfer failed)"
  fi
  qi_expect_eq "$name, quasi as client: RSTs received" "$(qt_stat_in "$out" tcp_resets_rx)" 0
  local c_secs c_mbps c_rtx c_rto c_frx c_krtx c_imp c_caught
  c_secs="$(qt_field "$sum" elapsed_s)" c_mbps="$(qt_field "$sum" throughput_MBps)"
  c_rtx="$(qt_stat_in "$out" tcp_retransmits)" c_rto="$(qt_stat_in "$out" tcp_rto_expiries)"
  c_frx="$(qt_stat_in "$out" tcp_fast_retransmits)" c_krtx="$(qt_field "$conn" kernel_total_retrans)"
  c_imp="$(impair_counts "$out")" c_caught="$(caught_damage "$out")"

  if [[ "$name" == corrupt* ]]; then
    qi_step "$name: frames quasi dropped as damaged: server run $s_caught, client run $c_caught ($s_imp / $c_imp)"
  fi
  local nstat_after kb_r kb_t kb_d kb_c ka_r ka_t ka_d ka_c
  nstat_after="$(kernel_counters)"
  read -r kb_r kb_t kb_d kb_c <<<"$nstat_before"
  read -r ka_r ka_t ka_d ka_c <<<"$nstat_after"
  if [[ -n "$spec" ]]; then
    expect_fault_handled "$name" "quasi as server" "$st" "${s_krtx:-0}"
    expect_fault_handled "$name" "quasi as client" "$out" "${c_krtx:-0}"
  fi
  if [[ -n "$nft" ]]; then
    # The rules' counters cover both transfers; each direction's rule must have fired.
    if [[ "$nft" == loss* ]]; then
      local to_quasi from_quasi
      to_quasi="$(qnetns_nft_count "$NS" loss kv1)" from_quasi="$(qnetns_nft_count "$NS" loss "$TAP")"
      qi_step "$name: nft dropped $to_quasi frames towards quasi (kv1), $from_quasi from quasi ($TAP)"
      qi_expect_ge "$name: frames the nft rule dropped towards quasi" "$to_quasi" 1
      qi_expect_ge "$name: frames the nft rule dropped from quasi" "$from_quasi" 1
      qi_expect_ge "$name: quasi retransmitted (both transfers)" $((s_rtx + c_rtx)) 1
      qi_expect_ge "$name: the kernel retransmitted (both transfers)" $((ka_r - kb_r)) 1
      { qnetns_nft_clear "$NS" kv1 && qnetns_nft_clear "$NS" "$TAP"; } || qi_die "could not remove the nft rules"
    else
      local copies
      copies="$(qnetns_nft_count "$NSK" dup kv0)"
      qi_step "$name: nft duplicated $copies frames towards quasi (kv0)"
      qi_expect_ge "$name: frames the nft rule duplicated" "$copies" 1
      qi_expect_ge "$name: duplicate segments quasi discarded (out of window, both transfers)" \
        $(($(qt_drop_in "$st" tcp_out_of_window) + $(qt_drop_in "$out" tcp_out_of_window))) 1
      qnetns_nft_clear "$NSK" kv0 || qi_die "could not remove the nft rules"
    fi
  fi
  qi_step "$name: quasi as server: ${s_secs:-?} s ${s_mbps:-?} MB/s, quasi retransmits $s_rtx (rto $s_rto, fast $s_frx), kernel retransmits ${s_krtx:-?}; ${s_imp:-no decorator}"
  qi_step "$name: quasi as client: ${c_secs:-?} s ${c_mbps:-?} MB/s, quasi retransmits $c_rtx (rto $c_rto, fast $c_frx), kernel retransmits ${c_krtx:-?}; ${c_imp:-no decorator}"
  qi_step "$name: kernel (nstat, both transfers): TcpRetransSegs +$((ka_r - kb_r)), TcpExtTCPTimeouts +$((ka_t - kb_t)), TcpExtTCPDSACKOldSent +$((ka_d - kb_d)), checksum drops +$((ka_c - kb_c))"
  SUMMARY+=("$(printf '%-13s %7s %7s %5s %5s %5s %6s | %7s %7s %5s %5s %5s %6s' "$name" \
    "${s_secs:-?}" "${s_mbps:-?}" "$s_rtx" "$s_rto" "$s_frx" "${s_krtx:-?}" \
    "${c_secs:-?}" "${c_mbps:-?}" "$c_rtx" "$c_rto" "$c_frx" "${c_krtx:-?}")")
}

for p in "${PROFILES[@]}"; do
  IFS='|' read -r name spec nft limit seed <<<"$p"
  if ((SECONDS - QI_T0 + 2 * limit * SCALE > BUDGET)); then
    qi_check "$name: not run: the time budget of ${BUDGET}s is spent" false
    continue
  fi
  run_profile "$name" "$spec" "$nft" "$limit" "$seed"
done

qi_step "SUMMARY ($MIB MiB each direction at once per transfer; MB/s = 10^6 B/s per direction; rtx = quasi's"
qi_step "tcp_retransmits, rto = tcp_rto_expiries, fast = tcp_fast_retransmits, k-rtx = kernel socket's total_retrans)"
qi_step "$(printf '%-13s %7s %7s %5s %5s %5s %6s | %7s %7s %5s %5s %5s %6s' profile \
  "srv-s" "MB/s" rtx rto fast k-rtx "cli-s" "MB/s" rtx rto fast k-rtx)"
for line in "${SUMMARY[@]}"; do qi_step "$line"; done
qi_finish
