#!/usr/bin/env bash
# tests/interop/lib/selftest.sh: self-test of tests/interop/lib/netns.sh.
#
# Usage: tests/interop/lib/selftest.sh        (as root; ~20 s; exit 0 iff all checks pass)
#
# Checks, printing one TAP-style "ok N - ..." / "not ok N - ..." line each:
#  - qnet_assert_safe_addr accepts 198.18.0.0/15 and rejects everything else;
#  - qwait_for / qrun_bounded succeed and time out as documented;
#  - a full scenario in a child shell: namespaces, tap, address, IPv6 off, sysctl, nft
#    loss and dup rules visible in `nft list ruleset`, and real traffic over the tap
#    (tapprobe.py sends ICMP echo requests to the kernel) showing the loss/dup rates;
#  - teardown: after the child exits normally, fails under `set -e`, or gets SIGTERM,
#    its namespaces, tap and processes are gone and earlier EXIT traps still ran.
# All traffic stays inside namespaces created here, on 198.18.0.0/15, bounded in count
# and time.

set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=netns.sh
source "$HERE/netns.sh"

PROBE_IP=198.18.0.2
KERNEL_IP=198.18.0.1
PROBE_MAC=02:00:5e:51:00:02
PROBE_COUNT=1000

T_N=0
T_FAIL=0

# ok COND_STATUS DESC: record one check result.
ok() {
  local st="$1"
  shift
  T_N=$((T_N + 1))
  if [[ "$st" -eq 0 ]]; then
    printf 'ok %d - %s\n' "$T_N" "$*"
  else
    printf 'not ok %d - %s\n' "$T_N" "$*"
    T_FAIL=$((T_FAIL + 1))
  fi
}

# check DESC CMD...: run CMD (output to stderr) and record whether it succeeded.
check() {
  local desc="$1"
  shift
  "$@" >&2
  ok $? "$desc"
}

# check_fails DESC CMD...: record success if CMD fails.
check_fails() {
  local desc="$1"
  shift
  if "$@" >&2 2>/dev/null; then ok 1 "$desc"; else ok 0 "$desc"; fi
}

# fails CMD...: succeed iff CMD fails (run in a subshell, so an `exit` counts as
# failure; its output is discarded).
fails() { ! ("$@") >/dev/null 2>&1; }

# safe ADDR / unsafe ADDR: run qnet_assert_safe_addr in a subshell (it exits).
safe() { (qnet_assert_safe_addr "$1") 2>/dev/null; }
unsafe() { ! (qnet_assert_safe_addr "$1") 2>/dev/null; }

# in_range VALUE LO HI: true if LO <= VALUE <= HI (decimals allowed).
in_range() { python3 -c 'import sys; v,lo,hi=map(float,sys.argv[1:]); sys.exit(0 if lo<=v<=hi else 1)' "$@"; }

# probe NS: run tapprobe.py in NS; prints its JSON.
probe() {
  qrun_bounded 30 ip netns exec "$1" python3 "$QNETNS_LIB_DIR/tapprobe.py" --tap qtap0 \
    --ip "$PROBE_IP" --peer "$KERNEL_IP" --mac "$PROBE_MAC" --count "$PROBE_COUNT" --interval 0.001 --wait 1
}

# field JSON KEY: extract an integer field from the probe's JSON.
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

# ---------------------------------------------------------------------------
# Child scenarios (run as separate bash processes so teardown can be observed).

# child_full STATEDIR: the normal life of an interop test; prints TAP lines (numbered
# from 100 to stand apart), exits 0 iff all passed. Writes namespace names and the pid
# of a process left running in the namespace into STATEDIR.
child_full() {
  local st="$1" ns ns2 out r u d refl n
  T_N=100
  # shellcheck disable=SC2064  # expand $st now
  trap "echo ran > '$st/prev_exit_trap'" EXIT   # must survive the library's trap
  qnetns_create selftest NS || exit 1
  ns="$NS"
  qnetns_create selftest2 NS2 || exit 1
  ns2="$NS2"
  printf '%s\n%s\n' "$ns" "$ns2" >"$st/namespaces"
  qnetns_on_exit "echo ran > '$st/on_exit'"

  check "namespace $ns exists" test -e "/run/netns/$ns"
  ok "$([[ "$ns" == "quasi-selftest-$$" ]]; echo $?)" "namespace named quasi-<name>-\$\$ ($ns)"
  check "lo is up in $ns" bash -c "ip -n '$ns' link show lo | grep -q ',UP'"
  check "IPv6 disabled (all)" bash -c "[[ \$(ip netns exec '$ns' sysctl -n net.ipv6.conf.all.disable_ipv6) == 1 ]]"

  check "qnetns_tap creates qtap0 198.18.0.1/24" qnetns_tap "$ns" qtap0 "$KERNEL_IP/24"
  out="$(ip -n "$ns" addr show dev qtap0)"
  printf '%s\n' "$out" >&2
  ok "$(grep -q "inet $KERNEL_IP/24" <<<"$out"; echo $?)" "ip -n NS addr shows $KERNEL_IP/24 on qtap0"
  ok "$(fails grep -q 'inet6' <<<"$out"; echo $?)" "no IPv6 address on qtap0"
  ok "$(grep -q '\bUP\b' <<<"$out"; echo $?)" "qtap0 is administratively up"
  ok "$(fails ip link show qtap0; echo $?)" "qtap0 is not visible in the host namespace"
  ok "$(fails qnetns_tap "$ns" qtap1 10.0.0.1/24; echo $?)" "qnetns_tap refuses 10.0.0.1/24"
  ok "$(fails ip -n "$ns" link show qtap1; echo $?)" "... and created no device"

  check "qnetns_sysctl sets net.ipv4.tcp_sack=0" qnetns_sysctl "$ns" net.ipv4.tcp_sack=0
  check "... visible in NS" bash -c "[[ \$(ip netns exec '$ns' sysctl -n net.ipv4.tcp_sack) == 0 ]]"
  check "... host value untouched" bash -c "[[ \$(sysctl -n net.ipv4.tcp_sack) == 1 ]]"
  check "qnetns_exec (library function) runs in NS" qnetns_exec "$ns" ip link show qtap0
  check_fails "qnetns_exec refuses a namespace it did not create" qnetns_exec quasi-nonexistent-1 true

  # The kernel resolves the probe's MAC statically (no ARP needed across lossy links).
  ip -n "$ns" neigh replace "$PROBE_IP" lladdr "$PROBE_MAC" dev qtap0 nud permanent

  out="$(probe "$ns")"
  echo "# baseline: $out"
  r="$(field "$out" replies)"
  ok "$([[ "$r" -ge $((PROBE_COUNT * 99 / 100)) ]]; echo $?)" "baseline: $r/$PROBE_COUNT echo replies"

  check "qnetns_nft_loss 30% both directions" qnetns_nft_loss "$ns" qtap0 30
  out="$(ip netns exec "$ns" nft list ruleset)"
  printf '%s\n' "$out" >&2
  ok "$(grep -cE 'numgen random mod 100 < 30 counter packets [0-9]+ bytes [0-9]+ drop' <<<"$out" | grep -qx 2; echo $?)" "nft list ruleset shows the loss rule on ingress and egress"
  out="$(probe "$ns")"
  echo "# loss 30% both: $out"
  r="$(field "$out" replies)"
  ok "$(in_range "$r" $((PROBE_COUNT * 39 / 100)) $((PROBE_COUNT * 59 / 100)); echo $?)" "loss 30% both ways: $r/$PROBE_COUNT replies (expect ~49%)"
  n="$(qnetns_nft_count "$ns" loss qtap0)"
  ok "$([[ "$n" -ge $((PROBE_COUNT - r)) ]]; echo $?)" "the loss rules counted at least the $((PROBE_COUNT - r)) lost exchanges ($n)"

  check "qnetns_nft_loss replaces: 50% ingress only" qnetns_nft_loss "$ns" qtap0 50 ingress
  out="$(ip netns exec "$ns" nft list table netdev quasi_loss_qtap0)"
  ok "$(fails grep -q 'hook egress' <<<"$out"; echo $?)" "... the egress loss chain is gone"
  out="$(probe "$ns")"
  echo "# loss 50% ingress: $out"
  r="$(field "$out" replies)"
  ok "$(in_range "$r" $((PROBE_COUNT * 40 / 100)) $((PROBE_COUNT * 60 / 100)); echo $?)" "loss 50% ingress: $r/$PROBE_COUNT replies (expect ~50%)"

  check "qnetns_nft_clear" qnetns_nft_clear "$ns" qtap0
  out="$(ip netns exec "$ns" nft list ruleset)"
  ok "$([[ -z "$out" ]]; echo $?)" "ruleset empty after clear"

  check "qnetns_nft_dup 50% egress" qnetns_nft_dup "$ns" qtap0 50
  out="$(ip netns exec "$ns" nft list ruleset)"
  printf '%s\n' "$out" >&2
  ok "$(grep -q 'dup to "qtap0"' <<<"$out"; echo $?)" "nft list ruleset shows the dup rule"
  out="$(probe "$ns")"
  echo "# dup 50% egress: $out"
  u="$(field "$out" unique)" d="$(field "$out" duplicates)" refl="$(field "$out" reflected)"
  ok "$([[ "$u" -ge $((PROBE_COUNT * 99 / 100)) ]]; echo $?)" "dup: every request answered ($u unique)"
  ok "$(in_range "$d" $((PROBE_COUNT * 40 / 100)) $((PROBE_COUNT * 60 / 100)); echo $?)" "dup 50%: $d duplicate replies (expect ~50%, copies never re-copied)"
  ok "$([[ "$refl" -eq 0 ]]; echo $?)" "dup: no frame reflected back ($refl)"
  check_fails "qnetns_nft_dup refuses ingress" qnetns_nft_dup "$ns" qtap0 50 ingress
  check_fails "qnetns_nft_loss refuses 101%" qnetns_nft_loss "$ns" qtap0 101
  check_fails "qnetns_nft_loss refuses a bad direction" qnetns_nft_loss "$ns" qtap0 5 sideways

  check "qrun_bounded runs a library function" qrun_bounded 10 qnetns_exec "$ns" true
  qrun_bounded 1 qnetns_exec "$ns" sleep 10 2>/dev/null
  ok "$([[ $? -eq 124 ]]; echo $?)" "qrun_bounded stops a process in NS after 1 s (status 124)"

  # Leave processes running in both namespaces: cleanup must kill them.
  qnetns_exec "$ns" sleep 317 &
  echo $! >"$st/bgpid"
  qnetns_exec "$ns2" sleep 317 &
  echo $! >"$st/bgpid2"
  check "qwait_for sees the background process in NS" qwait_for "[[ -n \$(ip netns pids $ns) ]]" 5

  [[ $T_FAIL -eq 0 ]] || exit 1
  exit 0
}

# child_fail STATEDIR: create a namespace with a process in it, then fail under set -e.
child_fail() {
  set -e
  qnetns_create selftest-fail NS
  echo "$NS" >"$1/namespaces"
  qnetns_tap "$NS" qtap0 "$KERNEL_IP/24"
  qnetns_exec "$NS" sleep 317 &
  echo $! >"$1/bgpid"
  false
  echo "not reached" >&2
}

# child_signal STATEDIR: create a namespace, signal readiness, wait (bounded) for SIGTERM.
child_signal() {
  qnetns_create selftest-sig NS
  echo "$NS" >"$1/namespaces"
  qnetns_tap "$NS" qtap0 "$KERNEL_IP/24"
  touch "$1/ready"
  sleep 30 &
  wait $!
  exit 0
}

# child_subshell STATEDIR: misuse: qnetns_create inside $(...) must fail, creating nothing.
child_subshell() {
  local out
  if out="$(qnetns_create selftest-sub X)"; then exit 1; fi
  [[ ! -e "/run/netns/quasi-selftest-sub-$$" ]]
}

if [[ "${1:-}" == --child ]]; then
  "child_$2" "$3"
  exit $?
fi

# ---------------------------------------------------------------------------
# Main: checks that need no namespace.

echo "# qnet_assert_safe_addr"
for a in 198.18.3.4 198.19.255.1 198.18.0.0 198.18.0.1/24 198.18.0.0/15 198.19.1.1/32; do
  ok "$(safe "$a"; echo $?)" "accepts $a"
done
for a in 10.0.0.1 198.17.255.255 198.20.0.1 8.8.8.8 127.0.0.1 0.0.0.0 198.18.0.1/8 198.18.0.1/14 \
  198.18.0.256 198.18.0 198.18.0.1.5 " 198.18.0.1" "198.18.0.1 " ::1 "" 198.18.1.1/33 foo; do
  ok "$(unsafe "$a"; echo $?)" "rejects '$a'"
done
(qnet_assert_safe_addr 10.0.0.1; exit 0) 2>/dev/null
ok "$([[ $? -eq 1 ]]; echo $?)" "rejection exits the shell with status 1"

echo "# qwait_for / qrun_bounded"
check "qwait_for: true succeeds" qwait_for true 1
t0=$SECONDS
check_fails "qwait_for: false times out" qwait_for false 1.5
ok "$([[ $((SECONDS - t0)) -le 4 ]]; echo $?)" "qwait_for timeout is bounded"
flag="$(mktemp)"
rm -f "$flag"
(sleep 0.5; touch "$flag") &
check "qwait_for: waits until a condition becomes true" qwait_for "[[ -e '$flag' ]]" 5
wait
rm -f "$flag"
check "qrun_bounded: fast command succeeds" qrun_bounded 5 true
qrun_bounded 5 false
ok "$([[ $? -eq 1 ]]; echo $?)" "qrun_bounded passes the status through"
t0=$SECONDS
qrun_bounded 1 sleep 10 2>/dev/null
ok "$([[ $? -eq 124 && $((SECONDS - t0)) -le 3 ]]; echo $?)" "qrun_bounded 1 sleep 10: status 124 within 3 s"
myfunc() { return 7; }
qrun_bounded 5 myfunc
ok "$([[ $? -eq 7 ]]; echo $?)" "qrun_bounded runs shell functions"

# ---------------------------------------------------------------------------
# Namespace scenarios (root).

if [[ ${EUID} -ne 0 ]]; then
  ok 1 "namespace scenarios need root (network namespaces); run as root"
  echo "1..$T_N"
  exit 1
fi
for t in ip nft python3 timeout; do
  command -v "$t" >/dev/null || { ok 1 "required tool '$t' is missing (scripts/setup.sh test)"; echo "1..$T_N"; exit 1; }
done

STATE="$(mktemp -d /tmp/quasi-netns-selftest.XXXXXX)"
trap 'rm -rf "$STATE"' EXIT

# gone_check SUBDIR LABEL: assert the namespaces and processes of a child are gone.
gone_check() {
  local d="$STATE/$1" label="$2" n p
  while read -r n; do
    ok "$([[ ! -e "/run/netns/$n" ]]; echo $?)" "$label: namespace $n removed"
    ok "$(fails grep -qw "$n" <(ip netns list); echo $?)" "$label: ip netns list no longer shows $n"
  done <"$d/namespaces"
  for p in "$d"/bgpid*; do
    [[ -e "$p" ]] || continue
    qwait_for "! kill -0 $(cat "$p")" 3
    ok $? "$label: process $(cat "$p") started in the namespace is gone"
  done
  ok "$(fails ip link show qtap0; echo $?)" "$label: no qtap0 anywhere in the host namespace"
  ok "$(fails pgrep -f "^sleep 317\$"; echo $?)" "$label: no 'sleep 317' left running anywhere"
}

echo "# full scenario (child shell)"
mkdir "$STATE/full"
timeout -k 5 120 bash "$0" --child full "$STATE/full"
ok $? "full scenario passed (lines 101.. above)"
gone_check full "after normal exit"
ok "$([[ -e "$STATE/full/prev_exit_trap" ]]; echo $?)" "an EXIT trap set before qnetns_create still ran"
ok "$([[ -e "$STATE/full/on_exit" ]]; echo $?)" "qnetns_on_exit command ran"

echo "# failure under set -e"
mkdir "$STATE/fail"
timeout -k 5 60 bash "$0" --child fail "$STATE/fail"
rc=$?
ok "$([[ $rc -eq 1 ]]; echo $?)" "failing child exits 1 (got $rc)"
gone_check fail "after set -e failure"

echo "# SIGTERM"
mkdir "$STATE/sig"
timeout -k 5 60 bash "$0" --child signal "$STATE/sig" &
cpid=$!
qwait_for "[[ -e '$STATE/sig/ready' ]]" 20
# timeout(1) forwards TERM to the child shell.
kill -TERM "$cpid"
wait "$cpid"
rc=$?
ok "$([[ $rc -eq 143 ]]; echo $?)" "terminated child exits 143 (got $rc)"
gone_check sig "after SIGTERM"

echo "# misuse"
mkdir "$STATE/sub"
timeout -k 5 30 bash "$0" --child subshell "$STATE/sub" 2>/dev/null
ok $? "qnetns_create inside \$(...) is refused and creates nothing"

echo "# leftovers"
left="$(ip netns list | grep -E '^quasi-selftest' || true)"
ok "$([[ -z "$left" ]]; echo $?)" "no quasi-selftest* namespace left (ip netns list)${left:+: $left}"

echo "1..$T_N"
if [[ $T_FAIL -ne 0 ]]; then
  echo "# FAILED: $T_FAIL check(s)"
  exit 1
fi
echo "# all $T_N checks passed"
