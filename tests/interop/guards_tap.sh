#!/usr/bin/env bash
# tests/interop/guards_tap.sh BUILD_DIR: the guards (guards/) over two taps against the
# Linux kernel: streams through a specialized send handle while the network changes
# under it, under ViolationPolicy::reinforce and under fallback_and_respecialize.
#
# Namespace quasi-guardstap-<pid>; kernel side:
#   qgt0  198.18.40.1/24 (tap, MAC M0)     quasi 198.18.40.2/24 on it
#   qgt0g 198.18.40.3/32 (macvlan on qgt0, MAC M1: the second gateway)
#   qgt0h 198.18.40.4/32 (macvlan on qgt0, MAC M2: announces 198.18.40.3 as its own)
#   qgt1  198.18.41.1/24 (tap, MAC M3)     quasi 198.18.41.2/24 on it
#   lo    198.18.42.1/32: the peer (guards_peer.py), reachable through either tap
# rp_filter off (replies leave by qgt0 whichever way the data came), arp_ignore=1 (each
# device answers ARP for its own addresses only), arp_announce=2 (the kernel's ARP
# requests on qgt0 name 198.18.40.1, never the second gateway).
# quasi_guards_client (tests/interop/) streams to the peer through a handle and, at
# each sixth of the stream, changes: the gateway (M0 -> M1), the gateway's ARP entry
# (a gratuitous ARP from M2), the route (to qgt1), the path MTU (a real ICMP
# fragmentation-needed from 198.18.41.1, MTU 1000) and tap1's interface MTU (900).
# Runs: TCP (64 MiB, declared ADU 1448) and UDP (16 MiB in 1400-byte datagrams), each
# under both policies.
# Checks: the peer got every byte once and in order (SHA-256; UDP: every datagram once,
# intact, in order); every change happened and showed its violation kind; under
# reinforce the stale code kept sending between each change and its replug (the
# specialized-send counter rose there, its frames rewritten; TCP segments re-cut after
# the ICMP report, UDP datagrams fragmented after both MTU drops and NAT-translated after
# the route moved), under fallback it did not (generic sends there, nothing rewritten).
# The longest delivery gap after each change is printed for both policies (TCP: between
# advances of SND.UNA at quasi; UDP: between arrivals at the peer), never asserted.
# Bounded: each client by --seconds and `timeout`, each peer by --deadline and
# `timeout`, the script by ctest.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=tcp_common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/tcp_common.sh"
qt_init guards_tap "$@"
CLIENT="$QI_BUILD/tests/interop/quasi_guards_client"
PEER="$QI_HERE/guards_peer.py"
qt_require_bin "$CLIENT"

PEER_IP=198.18.42.1
TCP_BYTES=$((64 << 20))
UDP_BYTES=$((16 << 20))
UDP_SIZE=950
UDP_COUNT=$((UDP_BYTES / UDP_SIZE))
CHANGES=(gateway arp route icmp mtu)

qnetns_create guardstap NS || qi_die "cannot create namespace"
qnetns_tap "$NS" qgt0 198.18.40.1/24 || qi_die "cannot create tap qgt0"
qnetns_tap "$NS" qgt1 198.18.41.1/24 || qi_die "cannot create tap qgt1"
for mv in qgt0g:198.18.40.3/32 qgt0h:198.18.40.4/32; do
  qnet_assert_safe_addr "${mv#*:}"
  ip -n "$NS" link add "${mv%%:*}" link qgt0 type macvlan mode bridge || qi_die "cannot create macvlan ${mv%%:*}"
  ip -n "$NS" addr add "${mv#*:}" dev "${mv%%:*}" && ip -n "$NS" link set "${mv%%:*}" up || qi_die "macvlan ${mv%%:*}"
done
qnet_assert_safe_addr "$PEER_IP/32"
ip -n "$NS" addr add "$PEER_IP/32" dev lo || qi_die "cannot add the peer's address"
sysctls=(net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 net.ipv4.conf.all.arp_ignore=1
  net.ipv4.conf.all.arp_announce=2)
for dev in qgt0 qgt1 qgt0g qgt0h lo; do sysctls+=("net.ipv4.conf.$dev.rp_filter=0"); done
qnetns_sysctl "$NS" "${sysctls[@]}" || qi_die "sysctls"

# run_one PROTO POLICY: one stream; its client and peer logs in $QI_TMP/PROTO-POLICY.*.
run_one() {
  local proto="$1" policy="$2" base="$QI_TMP/$1-$2" port=5001 peer_args=()
  [[ "$proto" == udp ]] && port=9000 peer_args=(--count "$UDP_COUNT" --size "$UDP_SIZE")
  : >"$base.peer"
  ip netns exec "$NS" timeout --kill-after=5 40 python3 "$PEER" --bind "$PEER_IP" --port "$port" --proto "$proto" \
    "${peer_args[@]}" --log "$base.peer" --deadline 35 >"$base.peer.out" 2>&1 &
  local peer_pid=$!
  qwait_for "grep -q '^guards_peer: ready' '$base.peer' || ! kill -0 $peer_pid" 10
  grep -q '^guards_peer: ready' "$base.peer" || qi_die "guards_peer.py did not start: $(cat "$base.peer.out")"
  qrun_bounded 40 ip netns exec "$NS" "$CLIENT" --proto "$proto" --policy "$policy" --tap0 qgt0 --ip0 198.18.40.2/24 \
    --tap1 qgt1 --ip1 198.18.41.2/24 --peer "$PEER_IP" --port "$port" --gw0 198.18.40.1 --gw0b 198.18.40.3 \
    --gw1 198.18.41.1 --arp-dev qgt0h --icmp-dev qgt1 --bytes "$([[ $proto == tcp ]] && echo $TCP_BYTES || echo $UDP_BYTES)" \
    --udp-size "$UDP_SIZE" --pmtu 1000 --iface-mtu 900 --seconds 30 >"$base.client" 2>&1
  echo $? >"$base.client.rc"
  wait "$peer_pid"
  echo $? >"$base.peer.rc"
  grep '^quasi_guards_client: \(change=\|PASS\|FAIL\)' "$base.client" | sed 's/^/  /'
  grep '^guards_peer: \(tcp\|udp\) ' "$base.peer" | sed 's/^/  /'
}

# change_field PROTO POLICY CHANGE KEY: a field of the client's line about CHANGE.
change_field() {
  local v
  v="$(qt_field "$(grep "^quasi_guards_client: change=$3 " "$QI_TMP/$1-$2.client")" "$4")"
  printf '%s' "${v:-0}"
}

check_run() {
  local proto="$1" policy="$2" base="$QI_TMP/$1-$2" sum peer c kind
  sum="$(grep '^quasi_guards_client: \(PASS\|FAIL\):' "$base.client" | tail -n 1)"
  peer="$(grep "^guards_peer: $proto " "$base.peer" | tail -n 1)"
  qi_check "$proto/$policy: client sent the stream and made every change (exit $(cat "$base.client.rc"))" \
    test "$(cat "$base.client.rc")" -eq 0
  qi_check "$proto/$policy: kernel peer saw a clean stream (exit $(cat "$base.peer.rc"))" test "$(cat "$base.peer.rc")" -eq 0
  qi_check "$proto/$policy: SHA-256 at the kernel equals SHA-256 of what the handle was given" \
    test -n "$(qt_field "$sum" sha256_sent)" -a "$(qt_field "$sum" sha256_sent)" == "$(qt_field "$peer" sha256)"
  if [[ "$proto" == tcp ]]; then
    qi_check "$proto/$policy: exactly $TCP_BYTES bytes, then EOF" \
      test "$(qt_field "$peer" bytes)" == "$TCP_BYTES" -a "$(qt_field "$peer" eof)" == 1
  else
    qi_expect_eq "$proto/$policy: distinct datagrams" "$(qt_field "$peer" distinct)" "$UDP_COUNT"
    qi_expect_eq "$proto/$policy: duplicate, bad, out-of-order datagrams" \
      "$(($(qt_field "$peer" duplicates) + $(qt_field "$peer" bad) + $(qt_field "$peer" reordered)))" 0
  fi
  for c in "${CHANGES[@]}"; do
    qi_expect_eq "$proto/$policy $c: made" "$(change_field "$proto" "$policy" "$c" made)" 1
    qi_expect_ge "$proto/$policy $c: violations of its kind" "$(change_field "$proto" "$policy" "$c" kind_violations)" 1
    # UDP after the MTU fell to 900: a 950-byte datagram no longer fits the path,
    # and only the generic path fragments.
    [[ "$proto/$c" == udp/mtu ]] && continue
    qi_expect_ge "$proto/$policy $c: specialized sends after the new code was plugged" \
      "$(change_field "$proto" "$policy" "$c" after_specialized)" 1
  done
  qi_expect_eq "$proto/$policy: client RSTs sent" "$(qt_stat_in "$base.client" tcp_resets_sent)" 0
  local bad
  bad="$(qi_bad_drops_in "$base.client")"
  qi_check "$proto/$policy: no drops that mean malformed or mishandled packets${bad:+: $bad}" test -z "$bad"
}

# The stale code carried the sends between each change and its replug (reinforce), or
# the generic path did (fallback). TCP's interface MTU change leaves the connection's
# MSS (stack/tcp.cpp), so its context, as it is: no new code, no window.
check_windows() {
  local proto="$1" c
  for c in "${CHANGES[@]}"; do
    [[ "$proto/$c" == tcp/mtu ]] && continue
    qi_expect_ge "$proto/reinforce $c: stale specialized sends until the replug" \
      "$(change_field "$proto" reinforce "$c" window_specialized)" 1
    qi_expect_ge "$proto/reinforce $c: stale frames rewritten at egress" \
      "$(change_field "$proto" reinforce "$c" reinforced_frames)" 1
    qi_expect_ge "$proto/reinforce $c: violations handled by reinforce" \
      "$(change_field "$proto" reinforce "$c" reinforce_policy)" 1
    qi_expect_eq "$proto/fallback $c: specialized sends until the replug" \
      "$(change_field "$proto" fallback "$c" window_specialized)" 0
    qi_expect_ge "$proto/fallback $c: generic sends until the replug" \
      "$(change_field "$proto" fallback "$c" window_generic)" 1
  done
  qi_expect_eq "$proto/fallback: frames rewritten" \
    "$(qt_field "$(grep '^quasi_guards_client: \(PASS\|FAIL\):' "$QI_TMP/$proto-fallback.client")" reinforced_frames)" 0
  if [[ "$proto" == tcp ]]; then
    qi_expect_ge "tcp/reinforce icmp: segments re-cut to the lower MSS" "$(change_field tcp reinforce icmp recut)" 1
  else
    qi_expect_ge "udp/reinforce route: sources NAT-translated" "$(change_field udp reinforce route translations)" 1
    qi_expect_ge "udp/reinforce mtu: datagrams fragmented (950 B over MTU 900)" \
      "$(change_field udp reinforce mtu fragments)" 1
  fi
}

for proto in tcp udp; do
  for policy in reinforce fallback; do
    qi_step "$proto stream under $policy"
    run_one "$proto" "$policy"
    check_run "$proto" "$policy"
  done
  check_windows "$proto"
done

# The longest delivery gap after each change, both policies side by side.
qi_step "longest delivery gap after each change (us), reinforce / fallback:"
for c in "${CHANGES[@]}"; do
  i=0
  for k in "${!CHANGES[@]}"; do [[ "${CHANGES[$k]}" == "$c" ]] && i=$((k + 1)); done
  udp_r="$(qt_field "$(grep '^guards_peer: udp ' "$QI_TMP/udp-reinforce.peer")" gaps_us | cut -d, -f$((i + 1)))"
  udp_f="$(qt_field "$(grep '^guards_peer: udp ' "$QI_TMP/udp-fallback.peer")" gaps_us | cut -d, -f$((i + 1)))"
  qi_step "  $c: tcp $(change_field tcp reinforce "$c" gap_us) / $(change_field tcp fallback "$c" gap_us)," \
    "udp ${udp_r:-?} / ${udp_f:-?}"
done
qi_finish
