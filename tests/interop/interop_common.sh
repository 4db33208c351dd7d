# shellcheck shell=bash
#
# tests/interop/interop_common.sh: shared code of the interop test scripts in this folder
# (icmp_ping.sh, udp_echo.sh, udp_stack_client.sh, udp_port_unreachable.sh). Sourced,
# never run. It sources lib/netns.sh (namespaces, tap, cleanup traps) and adds:
#
#   qi_init NAME "$@"        parse the test's arguments (build dir), find the binaries,
#                            check root and tools; sets QI_BUILD, QI_ECHO, QI_CLIENT,
#                            QI_TMP (a private temp dir removed at exit)
#   qi_step MSG              print a progress line
#   qi_check DESC CMD...     run CMD, print "ok - DESC" / "FAIL - DESC", count failures
#   qi_expect_ge DESC V MIN  numeric check V >= MIN
#   qi_link NS TAP CIDR      the link: a tap with the kernel's address CIDR, or with
#                            QUASI_INTEROP_LINK=dpdk a veth pair TAP (kernel) / TAPq
#                            (quasi over DPDK's net_af_packet); qi_dpdk says which
#   qi_link_args TAP         quasi's options for that link (last on its command line:
#                            the DPDK form ends with `--` and EAL's arguments)
#   qi_cores                 how many stacks quasi runs: one per lcore in
#                            QUASI_DPDK_LCORES on DPDK (net_af_packet gets as many
#                            qpairs), else 1
#   qi_expect_cores_carried FILE PROG
#                            with several cores: each core's "PROG: core I: tcp
#                            connections accepted N" line in FILE shows N > 0
#   qi_start_echo NS TAP CIDR [ARGS...]
#                            start build/apps/quasi-echo inside NS on TAP (background,
#                            bounded by --seconds), wait until it is up; QI_ECHO_PID/LOG
#   qi_stop_echo             SIGTERM quasi-echo, wait (bounded) for its statistics
#   qi_stat NAME             a counter from quasi-echo's printed statistics (0 if absent)
#   qi_drop NAME             a drop reason count from the same (0 if absent)
#   qi_bad_drops / qi_bad_drops_in FILE
#                            prints the drop lines that indicate a bug (checksum, malformed,
#                            reassembly failures, buffer exhaustion), if any
#   qi_snmp NS / qi_snmp_field TEXT PROTO FIELD
#                            the kernel's /proc/net/snmp counters inside NS
#   qi_finish                print the verdict; on failure quasi-echo's statistics and the
#                            last lines of its output; exits 0 / 1
#   qi_die MSG               fatal error: diagnostics, exit 1
#   qi_test_diagnostics      defined by a test (optional): more diagnostics, run by
#                            qi_die and a failing qi_finish
#
# Network safety: everything runs inside the namespace qnetns_create makes, on
# addresses from 198.18.0.0/15 (checked by qnet_assert_safe_addr); every traffic
# command is bounded in count and in time (qrun_bounded / timeout).

QI_HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
QI_REPO="$(cd "$QI_HERE/../.." && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib/netns.sh
source "$QI_HERE/lib/netns.sh"

QI_NAME=""
QI_FAILS=0
QI_CHECKS=0
QI_ECHO_PID=""
QI_ECHO_LOG=""
QI_ECHO_STOPPED=0
QI_T0=$SECONDS
# Exit status that ctest (SKIP_RETURN_CODE) reports as "skipped".
QI_SKIP=77

qi_step() { printf '[%s] %s\n' "$QI_NAME" "$*"; }

# qi_init NAME [BUILD_DIR]: BUILD_DIR defaults to $QUASI_BUILD_DIR, then <repo>/build.
qi_init() {
  QI_NAME="$1"
  shift
  local b="${1:-${QUASI_BUILD_DIR:-$QI_REPO/build}}"
  if [[ ! -d "$b" ]]; then
    printf '[%s] error: build directory %s does not exist (usage: %s BUILD_DIR)\n' "$QI_NAME" "$b" "$0" >&2
    exit 2
  fi
  QI_BUILD="$(cd "$b" && pwd)"
  QI_ECHO="$QI_BUILD/apps/quasi-echo"
  # shellcheck disable=SC2034  # used by udp_stack_client.sh
  QI_CLIENT="$QI_BUILD/tests/interop/quasi_udp_client"
  if [[ ${EUID} -ne 0 ]]; then
    printf '[%s] SKIP: interop tests need root (network namespaces, tap devices)\n' "$QI_NAME" >&2
    exit "$QI_SKIP"
  fi
  local t
  for t in ip ping python3 timeout awk; do
    command -v "$t" >/dev/null || { printf '[%s] error: required tool %s is missing\n' "$QI_NAME" "$t" >&2; exit 2; }
  done
  [[ -x "$QI_ECHO" ]] || { printf '[%s] error: %s is not built\n' "$QI_NAME" "$QI_ECHO" >&2; exit 2; }
  QI_TMP="$(mktemp -d "/tmp/quasi-interop-$QI_NAME.XXXXXX")"
  # Registered first, so it runs last (after quasi-echo is stopped).
  qnetns_on_exit "rm -rf '$QI_TMP'"
  qi_step "build dir $QI_BUILD, kernel $(uname -r)"
}

# qi_check DESC CMD...: run CMD (its output shown), record the result.
qi_check() {
  local desc="$1"
  shift
  QI_CHECKS=$((QI_CHECKS + 1))
  if "$@"; then
    printf '[%s] ok - %s\n' "$QI_NAME" "$desc"
  else
    printf '[%s] FAIL - %s\n' "$QI_NAME" "$desc"
    QI_FAILS=$((QI_FAILS + 1))
  fi
}

# qi_expect_ge DESC VALUE MIN
qi_expect_ge() {
  local desc="$1" v="$2" min="$3"
  qi_check "$desc ($v >= $min)" test "$v" -ge "$min"
}

# qi_expect_eq DESC VALUE WANT
qi_expect_eq() {
  local desc="$1" v="$2" want="$3"
  qi_check "$desc ($v == $want)" test "$v" -eq "$want"
}

# qi_dpdk: true when the tests run quasi on DPDK (QUASI_INTEROP_LINK=dpdk).
qi_dpdk() { [[ "${QUASI_INTEROP_LINK:-tap}" == dpdk ]]; }

# qi_fragments_reach_quasi: false on DPDK's net_af_packet, whose kernel socket joins a
# fanout group with PACKET_FANOUT_FLAG_DEFRAG (DPDK 22.11 sets it unconditionally): the
# kernel reassembles IP fragments before the socket sees them, and the whole datagram,
# larger than a ring frame (framesz 2048), arrives truncated (ipv4_bad_total_length).
# Tests then keep to datagrams that fit the MTU.
qi_fragments_reach_quasi() {
  if qi_dpdk; then
    qi_step "NOTE: net_af_packet reassembles fragments in the kernel (PACKET_FANOUT_FLAG_DEFRAG): fragment checks skipped"
    return 1
  fi
}

# qi_link NS TAP CIDR: the kernel's end of quasi's link, with address CIDR. DPDK: quasi's
# end of the veth lives in a second namespace, QI_QUASI_NS, where quasi then runs.
QI_QUASI_NS=""
qi_link() {
  if qi_dpdk; then
    qnetns_create "${QI_NAME//_/-}-q" QI_QUASI_NS || return 1
    qnetns_veth "$1" "$2" "$3" "$QI_QUASI_NS"
  else
    qnetns_tap "$@"
  fi
}

# qi_quasi_ns NS: the namespace quasi runs in (NS itself on a tap).
qi_quasi_ns() { printf '%s' "${QI_QUASI_NS:-$1}"; }

# qi_cores: lcores in QUASI_DPDK_LCORES ("1", "0-1", "0,1") on DPDK, else 1.
qi_cores() {
  local n=1 part parts
  if qi_dpdk; then
    n=0
    IFS=, read -ra parts <<<"${QUASI_DPDK_LCORES:-1}"
    for part in "${parts[@]}"; do
      if [[ "$part" == *-* ]]; then n=$((n + ${part#*-} - ${part%-*} + 1)); else n=$((n + 1)); fi
    done
  fi
  echo "$n"
}

# qi_expect_cores_carried FILE PROG: with several cores, every core accepted connections
# (the per-core lines quasi-echo and quasi-httpd print at exit when they run several).
qi_expect_cores_carried() {
  local file="$1" prog="$2" cores line n i=0
  cores="$(qi_cores)"
  ((cores > 1)) || return 0
  while IFS= read -r line; do
    n="$(sed -n 's/.*tcp connections accepted \([0-9]*\).*/\1/p' <<<"$line")"
    qi_expect_ge "$prog core $i carried connections" "${n:-0}" 1
    i=$((i + 1))
  done < <(grep "^$prog: core [0-9]*: tcp connections accepted" "$file")
  qi_expect_eq "$prog cores reporting" "$i" "$cores"
}

# qi_link_args TAP: quasi's options for the link qi_link made (to be put last). DPDK:
# EAL without hugepages or PCI (platforms notes), quasi's lcore 1 busy-polling while
# the kernel peer is pinned to core 0 by the caller; QUASI_DPDK_LCORES overrides -l,
# and the af_packet vdev gets one queue pair (qpairs, a kernel fanout group member) per lcore.
# A run directory per test (--file-prefix) that quasi removes at exit. Several queues:
# rings of 1024 frames (DPDK's default 512), so that a window of quasi's (256 KiB, ~180
# segments, and the kernel's ACKs) stays below the 3/4 mark where the kernel's fanout
# rolls a flow over to another queue's socket, reordering it (tcp_bulk.sh).
qi_link_args() {
  if qi_dpdk; then
    local vdev="net_af_packet0,iface=${1}q,qpairs=$(qi_cores)"
    (($(qi_cores) > 1)) && vdev+=",framecnt=1024"
    printf '%s\n' --dpdk -- -l "${QUASI_DPDK_LCORES:-1}" --no-huge --no-pci -m 256 --no-shconf --no-telemetry \
      "--file-prefix=quasi-$QI_NAME-$$" --log-level=lib.eal:warning --log-level=pmd.net.af_packet:warning \
      "--vdev=$vdev"
  else
    printf '%s\n' --tap "$1"
  fi
}

# qi_start_echo NS TAP CIDR [EXTRA_ARGS...]: start quasi-echo inside NS. It stops by
# itself after --seconds (default 90 unless given in EXTRA_ARGS); qi_stop_echo stops it
# sooner, and the namespace cleanup kills it in any case.
qi_start_echo() {
  local ns="$1" tap="$2" cidr="$3"
  shift 3
  qnet_assert_safe_addr "$cidr"
  local -a extra=("$@")
  [[ " ${extra[*]} " == *" --seconds "* ]] || extra+=(--seconds 90)
  QI_ECHO_LOG="$QI_TMP/quasi-echo.log"
  local -a link
  mapfile -t link < <(qi_link_args "$tap")
  qi_step "starting quasi-echo in $ns: --ip $cidr ${extra[*]} ${link[*]}"
  _qnetns_check_ns "$ns" || qi_die "bad namespace $ns"
  # `ip netns exec` execs the program, so $! is quasi-echo itself.
  # QUASI_EMULATOR: a cross build's binaries run under it (qemu-aarch64; ctest sets it).
  # shellcheck disable=SC2086  # empty or one word
  ip netns exec "$(qi_quasi_ns "$ns")" ${QUASI_EMULATOR:-} "$QI_ECHO" --ip "$cidr" "${extra[@]}" "${link[@]}" >"$QI_ECHO_LOG" 2>&1 &
  QI_ECHO_PID=$!
  QI_ECHO_STOPPED=0
  if ! qwait_for "grep -q 'UDP echo on port' '$QI_ECHO_LOG' || ! kill -0 $QI_ECHO_PID" 10; then
    qi_die "quasi-echo did not start within 10 s"
  fi
  kill -0 "$QI_ECHO_PID" 2>/dev/null || qi_die "quasi-echo exited at start"
  qi_wait_link_up "$ns" "$tap"
  qi_step "quasi-echo running (pid $QI_ECHO_PID)"
}

# qi_wait_link_up NS TAP: wait (<= 5 s) until the kernel reports TAP's operstate "up".
# A process attaching to the tap turns the carrier on, but the kernel applies that in its
# linkwatch work, rate-limited to one run per second machine-wide; until then the tap's
# qdisc is noop and the kernel drops what it transmits (TX dropped on the tap), e.g. its
# first ARP request or reply. Not fatal: the protocols retry.
qi_wait_link_up() {
  local ns="$1" tap="$2" t0="${EPOCHREALTIME}" st
  if qwait_for "[[ \$(ip netns exec '$ns' cat /sys/class/net/$tap/operstate) == up ]]" 5 0.01; then
    st=up
  else
    st="$(ip netns exec "$ns" cat "/sys/class/net/$tap/operstate" 2>/dev/null)"
  fi
  qi_step "kernel operstate of $tap: $st after $(awk -v a="$t0" -v b="${EPOCHREALTIME}" 'BEGIN { printf "%.0f", (b - a) * 1000 }') ms"
}

# qi_stop_echo: SIGTERM, then wait up to 5 s for it to print its statistics and exit.
qi_stop_echo() {
  [[ -n "$QI_ECHO_PID" && $QI_ECHO_STOPPED -eq 0 ]] || return 0
  QI_ECHO_STOPPED=1
  kill -TERM "$QI_ECHO_PID" 2>/dev/null
  local i
  for ((i = 0; i < 50; i++)); do
    kill -0 "$QI_ECHO_PID" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$QI_ECHO_PID" 2>/dev/null; then
    printf '[%s] quasi-echo did not exit within 5 s of SIGTERM; killing it\n' "$QI_NAME" >&2
    kill -KILL "$QI_ECHO_PID" 2>/dev/null
    wait "$QI_ECHO_PID" 2>/dev/null
    return 1
  fi
  local rc=0
  wait "$QI_ECHO_PID" 2>/dev/null || rc=$?
  if ((rc != 0)); then
    printf '[%s] quasi-echo exited with status %d\n' "$QI_NAME" "$rc" >&2
    return 1
  fi
  return 0
}

# qi_echo_stats: the statistics block quasi-echo printed at exit.
qi_echo_stats() {
  [[ -n "$QI_ECHO_LOG" && -f "$QI_ECHO_LOG" ]] || return 0
  sed -n '/^quasi-echo: echoed/,$p' "$QI_ECHO_LOG"
}

# qi_stat NAME: counter value from the statistics (0 when not printed, i.e. zero).
qi_stat() {
  qi_echo_stats | awk -v n="$1" '$1 == n && NF == 2 { v = $2 } END { print v + 0 }'
}

# qi_drop NAME: drop reason count from the statistics.
qi_drop() {
  qi_echo_stats | awk -v n="$1" '$1 == "drop" && $2 == n { v = $3 } END { print v + 0 }'
}

# qi_bad_drops_in FILE: drop lines of a statistics block in FILE that no well-formed
# exchange with the kernel should cause (malformed, bad checksum, reassembly failure,
# queue or buffer exhaustion).
qi_bad_drops_in() {
  grep -E '^ *drop (eth_too_short|arp_too_short|arp_unsupported|arp_bad_|ipv4_bad_|ipv4_too_short|frag_|icmp_too_short|icmp_bad_|udp_too_short|udp_bad_|udp_queue_full|tx_|rx_no_buffer)' "$1" || true
}

# qi_bad_drops: the same for quasi-echo's statistics.
qi_bad_drops() { qi_bad_drops_in <(qi_echo_stats); }

# qi_snmp_field SNMP_TEXT PROTO FIELD: one value from a copy of /proc/net/snmp (header
# line "PROTO: names...", then value line "PROTO: values...").
qi_snmp_field() {
  awk -v p="$2:" -v f="$3" '$1 == p { if (!h) { for (i = 2; i <= NF; i++) idx[$i] = i; h = 1 } else { print (f in idx) ? $(idx[f]) : 0; exit } }' <<<"$1"
}

# qi_snmp NS: the kernel's /proc/net/snmp inside NS.
qi_snmp() { ip netns exec "$1" cat /proc/net/snmp; }

# qi_diagnostics: quasi-echo's statistics and last output lines, and the kernel's view.
qi_diagnostics() {
  if [[ -n "$QI_ECHO_PID" ]]; then
    qi_stop_echo || true
    echo "----- quasi-echo statistics -----"
    qi_echo_stats
    echo "----- quasi-echo output before the statistics (last 40 lines) -----"
    sed '/^quasi-echo: echoed/,$d' "$QI_ECHO_LOG" 2>/dev/null | tail -n 40
  fi
  # A test's own diagnostics (e.g. a board's statistics), when it defines them.
  if declare -F qi_test_diagnostics >/dev/null; then qi_test_diagnostics || true; fi
  local ns
  for ns in "${_QNETNS_LIST[@]}"; do
    _qnetns_exists "$ns" || continue
    echo "----- kernel side ($ns) -----"
    ip -n "$ns" -s link show 2>/dev/null
    ip -n "$ns" neigh show 2>/dev/null
  done
  echo "---------------------------------"
}

# qi_die MSG: fatal error.
qi_die() {
  printf '[%s] FATAL: %s\n' "$QI_NAME" "$*"
  qi_diagnostics
  printf '[%s] FAILED after %ds\n' "$QI_NAME" "$((SECONDS - QI_T0))"
  exit 1
}

# qi_finish: verdict and exit.
qi_finish() {
  if ((QI_FAILS > 0)); then
    printf '[%s] %d of %d checks FAILED\n' "$QI_NAME" "$QI_FAILS" "$QI_CHECKS"
    qi_diagnostics
    printf '[%s] FAILED after %ds\n' "$QI_NAME" "$((SECONDS - QI_T0))"
    exit 1
  fi
  printf '[%s] all %d checks passed in %ds\n' "$QI_NAME" "$QI_CHECKS" "$((SECONDS - QI_T0))"
  exit 0
}
