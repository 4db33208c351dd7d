#!/usr/bin/env bash
# tests/interop/guards_tap.sh BUILD_DIR: the guards (guards/) over two taps against the
# Linux kernel: streams through a specialized send handle while the network changes
# under it, under ViolationPolicy::reinforce and under fallback_and_respecialize.
#
# Namespace quasi-guardstap-<pid>; kernel side:
#   qgt0  198.18.40.1/24 (tap, MAC M0)     quasi 198.18.40.2/24 on it
#   qgt0g 198.18.40.3/32 (macvlan on qgt0, MAC M1: the second gateway)
#   qgt0h 198.18.40.4/32 (macvlan on qgt0, MAC M2: announces 198.18.40.3 as its own,
#         then qgt0g goes down: a gateway failover)
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
  ip -n "$NS" addr add "${mv#*:}" dev "${mv%%:*}" || qi_die "cannot address macvlan ${mv%%:*}"
  ip -n "$NS" link set "${mv%%:*}" up || qi_die "cannot set macvlan ${mv%%:*} up"
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
  ip -n "$NS" link set qgt0g up || qi_die "cannot set qgt0g up"  # the last run's failover took it down
  ip netns exec "$NS" timeout --kill-after=5 40 python3 "$PEER" --bind "$PEER_IP" --port "$port" --proto "$proto" \
    "${peer_args[@]}" --log "$base.peer" --deadline 35 >"$base.peer.out" 2>&1 &
  local peer_pid=$!
  qwait_for "grep -q '^guards_peer: ready' '$base.peer' || ! kill -0 $peer_pid" 10
  grep -q '^guards_peer: ready' "$base.peer" || qi_die "guards_peer.py did not start: $(cat "$base.peer.out")"
  qrun_bounded 40 ip netns exec "$NS" "$CLIENT" --proto "$proto" --policy "$policy" --tap0 qgt0 --ip0 198.18.40.2/24 \
    --tap1 qgt1 --ip1 198.18.41.2/24 --peer "$PEER_IP" --port "$port" --gw0 198.18.40.1 --gw0b 198.18.40.3 \
    --gw1 198.18.41.1 --arp-dev qgt0h --old-gw-dev qgt0g --icmp-dev qgt1 --bytes "$([[ $proto == tcp ]] && echo $TCP_BYTES || echo $UDP_BYTES)" \
    --udp-size "$UDP_SIZE" --pmtu 1000 --iface-mtu 900 --seconds 30 >"$base.client" 2>&1
  echo $? >"$base.client.rc"
  wait "$peer_pid"
  echo $? >"$base.peer.rc"
  grep '^quasi_guards_client: \(change=\|PASS\|FAIL\)' "$base.client" | sed 's/^/  /'
  grep '^guards_peer: \(tcp\|udp\) ' "$base.peer" | sed 's/^/  /'
}

# The runs' results: F[PROTO/POLICY/WHAT/KEY] for WHAT = a change's name, sum (the
# client's summary), peer (the kernel peer's line), rc (exit statuses); read once per
# run without forking per field (the checks below are many; this machine is loaded).
declare -A F
load_fields() {
  local proto="$1" policy="$2" base="$QI_TMP/$1-$2" line what kv
  while read -r line; do
    case "$line" in
      "quasi_guards_client: change="*) what="${line#*change=}" what="${what%% *}" ;;
      "quasi_guards_client: PASS:"* | "quasi_guards_client: FAIL:"*) what=sum ;;
      "guards_peer: $proto "*) what=peer ;;
      *) continue ;;
    esac
    for kv in $line; do
      [[ "$kv" == *=* ]] && F["$proto/$policy/$what/${kv%%=*}"]="${kv#*=}"
    done
  done < <(cat "$base.client" "$base.peer")
  F["$proto/$policy/rc/client"]="$(cat "$base.client.rc")"
  F["$proto/$policy/rc/peer"]="$(cat "$base.peer.rc")"
}

# field PROTO/POLICY/WHAT/KEY: the value, 0 when absent.
field() { printf '%s' "${F[$1]:-0}"; }

check_run() {
  local r="$1/$2" c
  load_fields "$1" "$2"
  qi_expect_eq "$r: client sent the stream and made every change (exit status)" "$(field "$r/rc/client")" 0
  qi_expect_eq "$r: kernel peer saw a clean stream (exit status)" "$(field "$r/rc/peer")" 0
  qi_check "$r: SHA-256 at the kernel equals SHA-256 of what the handle was given" \
    test "${F[$r/sum/sha256_sent]:-x}" == "${F[$r/peer/sha256]:-y}"
  if [[ "$1" == tcp ]]; then
    qi_check "$r: exactly $TCP_BYTES bytes, then EOF" \
      test "$(field "$r/peer/bytes")" == "$TCP_BYTES" -a "$(field "$r/peer/eof")" == 1
  else
    qi_expect_eq "$r: distinct datagrams" "$(field "$r/peer/distinct")" "$UDP_COUNT"
    qi_expect_eq "$r: duplicate, bad, out-of-order datagrams" \
      "$(($(field "$r/peer/duplicates") + $(field "$r/peer/bad") + $(field "$r/peer/reordered")))" 0
  fi
  for c in "${CHANGES[@]}"; do
    qi_expect_eq "$r $c: made" "$(field "$r/$c/made")" 1
    qi_expect_ge "$r $c: violations of its kind" "$(field "$r/$c/kind_violations")" 1
    # UDP after the MTU fell to 900: a 950-byte datagram no longer fits the path,
    # and only the generic path fragments.
    [[ "$1/$c" == udp/mtu ]] && continue
    qi_expect_ge "$r $c: specialized sends after the new code was plugged" "$(field "$r/$c/after_specialized")" 1
  done
  qi_expect_eq "$r: client RSTs sent" "$(qt_stat_in "$QI_TMP/$1-$2.client" tcp_resets_sent)" 0
  # A frame too big for the path, DF set, is lost at egress: what re-cutting prevents.
  qi_expect_eq "$r: frames dropped at egress as too big (DF)" "$(qt_drop_in "$QI_TMP/$1-$2.client" ipv4_too_big_df)" 0
  local bad
  bad="$(qi_bad_drops_in "$QI_TMP/$1-$2.client")"
  qi_check "$r: no drops that mean malformed or mishandled packets${bad:+: $bad}" test -z "$bad"
}

# The stale code carried the sends between each change and its replug (reinforce), or
# the generic path did (fallback). TCP's interface MTU change lowers the connection's
# MSS at its next segment (RFC 1122 4.2.2.6, TcpLayer::clamp_mss_to_route), so its
# context changes as after the ICMP.
check_windows() {
  local re="$1/reinforce" fb="$1/fallback" c
  for c in "${CHANGES[@]}"; do
    qi_expect_ge "$re $c: stale specialized sends until the replug" "$(field "$re/$c/window_specialized")" 1
    qi_expect_ge "$re $c: stale frames rewritten at egress" "$(field "$re/$c/reinforced_frames")" 1
    qi_expect_ge "$re $c: violations handled by reinforce" "$(field "$re/$c/reinforce_policy")" 1
    qi_expect_eq "$fb $c: specialized sends until the replug" "$(field "$fb/$c/window_specialized")" 0
    qi_expect_ge "$fb $c: generic sends until the replug" "$(field "$fb/$c/window_generic")" 1
  done
  qi_expect_eq "$fb: frames rewritten" "$(field "$fb/sum/reinforced_frames")" 0
  if [[ "$1" == tcp ]]; then
    qi_expect_ge "$re icmp: segments re-cut to the lower MSS" "$(field "$re/icmp/recut")" 1
    qi_expect_ge "$re mtu: segments re-cut to the interface's MTU (900)" "$(field "$re/mtu/recut")" 1
  else
    qi_expect_ge "$re route: sources NAT-translated" "$(field "$re/route/translations")" 1
    qi_expect_ge "$re mtu: datagrams fragmented (950 B over MTU 900)" "$(field "$re/mtu/fragments")" 1
  fi
}

for proto in tcp udp; do
  for policy in reinforce fallback; do
    qi_step "$proto stream under $policy"
    t0=$SECONDS
    run_one "$proto" "$policy"
    check_run "$proto" "$policy"
    qi_step "$proto/$policy: $((SECONDS - t0)) s in all, stream $(field "$proto/$policy/sum/stream_s") s"
  done
  check_windows "$proto"
done

# The longest delivery gap after each change, both policies side by side.
qi_step "longest delivery gap after each change (ms), reinforce / fallback:"
for i in "${!CHANGES[@]}"; do
  c="${CHANGES[$i]}"
  IFS=, read -r -a udp_r <<<"$(field udp/reinforce/peer/gaps_us)"
  IFS=, read -r -a udp_f <<<"$(field udp/fallback/peer/gaps_us)"
  qi_step "$(printf '  %-8s tcp %6.1f / %6.1f   udp %6.1f / %6.1f' "$c" \
    "$(($(field "tcp/reinforce/$c/gap_us") / 100))e-1" "$(($(field "tcp/fallback/$c/gap_us") / 100))e-1" \
    "$((${udp_r[$((i + 1))]:-0} / 100))e-1" "$((${udp_f[$((i + 1))]:-0} / 100))e-1")"
done
qi_finish
