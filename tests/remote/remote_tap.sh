#!/usr/bin/env bash
# tests/remote/remote_tap.sh BUILD_DIR [QUASI_SPECD]: a Linux device without LLVM gets
# its UDP send path from quasi-specd over a tap. quasi-remote-client (the RemoteClient
# a board runs, on a quasi stack attached to the tap; under $QUASI_EMULATOR in a cross
# build, e.g. the AArch64 build under qemu-aarch64) asks QUASI_SPECD (default
# BUILD_DIR/apps/quasi-specd; a host build's for a cross build) for the code of its
# UDP socket to the kernel's sink, streams through it, then asks for the same
# context again (answered from quasi-specd's cache).
#
# Namespace quasi-remote-<pid>, tap qrtap0: kernel, sink and quasi-specd 198.18.53.1/24,
# the device 198.18.53.2/24; device 7 with a fresh random key. Checks: the code was
# built for the device's own target, every datagram was sent, the first 8 sends of
# new code were verified against the generic path's frames and matched, the rest ran
# specialized, each cached request gave a handle that sent specialized, the kernel's
# sink got every datagram, quasi-specd compiled once and answered the rest from its
# cache, and quasi-specd stops cleanly on SIGTERM. A TCP connection to the kernel's
# port 5001 asks for a TCP handle too when the RemoteClient has them (its latency
# line for bench/remote_figures.sh; "tcp: unsupported" otherwise).
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../interop/interop_common.sh
source "$HERE/../interop/interop_common.sh"
qi_init remote_tap "${1:-}"
SPECD="${2:-$QI_BUILD/apps/quasi-specd}"
CLIENT="$QI_BUILD/apps/quasi-remote-client"
[[ -x "$SPECD" ]] || { printf '[%s] error: %s is not built (a QUASI_JIT build)\n' "$QI_NAME" "$SPECD" >&2; exit 2; }
[[ -x "$CLIENT" ]] || { printf '[%s] error: %s is not built\n' "$QI_NAME" "$CLIENT" >&2; exit 2; }

KIP=198.18.53.1
DIP=198.18.53.2
TAP=qrtap0
COUNT=2000
CACHED=3
# The device's target: what the cross build's emulator runs, else this machine's.
case "${QUASI_EMULATOR:-}" in
  *aarch64*) TARGET=aarch64-linux-gnu ;;
  "") TARGET="$(uname -m)-linux-gnu" ;;
  *) qi_die "unknown emulator '$QUASI_EMULATOR'" ;;
esac

qnetns_create remote NS || qi_die "cannot create namespace"
qnetns_tap "$NS" "$TAP" "$KIP/24" || qi_die "cannot create tap"

KEY="$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"
printf '{"devices": [{"id": 7, "key": "%s"}]}\n' "$KEY" >"$QI_TMP/keys.json"
ip netns exec "$NS" timeout --kill-after=5 200 "$SPECD" --listen "$KIP:7700" --keys "$QI_TMP/keys.json" \
  >"$QI_TMP/specd.out" 2>"$QI_TMP/specd.log" &
SPECD_PID=$!
qnetns_on_exit "kill $SPECD_PID 2>/dev/null"
ip netns exec "$NS" timeout 200 python3 "$HERE/sink.py" "$KIP" 9 5001 "$QI_TMP/sink.count" &
qnetns_on_exit "kill $! 2>/dev/null"
qwait_for "grep -q 'listening on' '$QI_TMP/specd.out'" 30 || { cat "$QI_TMP/specd.log"; qi_die "quasi-specd did not start"; }
qwait_for "test -s '$QI_TMP/sink.count'" 30 || qi_die "the kernel's UDP sink did not start"

qi_step "device ($TARGET${QUASI_EMULATOR:+, under $QUASI_EMULATOR}): UDP handle from quasi-specd, $COUNT datagrams, $CACHED cached requests"
rc=0
# shellcheck disable=SC2086  # no emulator: the word must vanish, not be ""
ip netns exec "$NS" timeout --kill-after=5 150 ${QUASI_EMULATOR:-} "$CLIENT" --tap "$TAP" --ip "$DIP/24" \
  --specd "$KIP:7700" --device 7 --key "$KEY" --sink "$KIP:9" --count "$COUNT" --cached "$CACHED" --tcp-port 5001 \
  >"$QI_TMP/client.log" 2>&1 || rc=$?
grep '^quasi_remote_client' "$QI_TMP/client.log"
qi_expect_eq "quasi-remote-client exit status" "$rc" 0
LINE="$(grep '^quasi_remote_client: udp:' "$QI_TMP/client.log" | tail -n 1)"
field() { awk -v k="$1" '{ for (i = 1; i <= NF; i++) if (index($i, k "=") == 1) print substr($i, length(k) + 2) }' <<<"$LINE"; }
qi_check "code built for the device's target ($(field target))" test "$(field target)" = "$TARGET"
qi_expect_eq "datagrams sent" "$(field sent)" "$COUNT"
qi_expect_eq "verify mode caught nothing" "$(field verify_failed)" 0
qi_expect_eq "sends verified against the generic path" "$(field verified_sends)" 8
qi_expect_eq "sends through the specialized code (verified ones included)" "$(field specialized_sends)" "$COUNT"
qi_expect_eq "cached requests that gave a specialized handle" "$(field cached_n)" "$CACHED"
qi_expect_ge "code bytes" "$(field code_bytes)" 1
BAD="$(qi_bad_drops_in "$QI_TMP/client.log")"
qi_check "no drop a well-formed exchange causes${BAD:+: $BAD}" test -z "$BAD"
qi_step "request to usable handle (device clock): cold $(field cold_ms) ms, cached $(field cached_ms) ms (median of $CACHED)"

# The cold stream, 16 per cached handle, one datagram that resolved ARP.
WANT=$((COUNT + 16 * CACHED + 1))
qwait_for "test \"\$(cat '$QI_TMP/sink.count')\" -ge $WANT" 20 || true
qi_expect_ge "datagrams at the kernel's sink" "$(cat "$QI_TMP/sink.count")" "$WANT"

qi_check "quasi-specd stops on SIGTERM" kill -TERM "$SPECD_PID"
qwait_for "grep -q 'stopped:' '$QI_TMP/specd.log'" 20 || true
qi_step "quasi-specd's log:"
cat "$QI_TMP/specd.log"
qi_expect_eq "requests quasi-specd compiled" "$(grep -c "device 7 .*: spec $TARGET udp: ok (compiled)" "$QI_TMP/specd.log")" 1
qi_expect_eq "requests answered from its cache" "$(grep -c "device 7 .*: spec $TARGET udp: ok (cached)" "$QI_TMP/specd.log")" "$CACHED"
qi_finish
