# shellcheck shell=bash
#
# tests/interop/lib/netns.sh: helpers for interop tests that run quasi against the
# Linux kernel's own stack across a tap device inside a private network namespace.
#
# Usage (from a test script, as root):
#
#   source "$(dirname "$0")/../lib/netns.sh"     # path relative to your script
#   qnetns_create echo NS                         # NS=quasi-echo-<pid>; auto-cleanup armed
#   qnetns_tap "$NS" qtap0 198.18.0.1/24          # kernel side of the link
#   qnetns_nft_loss "$NS" qtap0 5                 # optional impairments
#   qnetns_exec "$NS" build/apps/quasi-echo --tap qtap0 --ip 198.18.0.2 &
#   qwait_for "qnetns_exec $NS ping -c1 -W1 198.18.0.2" 10
#   qrun_bounded 30 ip netns exec "$NS" iperf3 -c 198.18.0.2 -t 5
#
# Network safety (DESIGN.md): every address handed to these helpers must lie in
# 198.18.0.0/15 (checked by qnet_assert_safe_addr); everything lives in namespaces this
# library creates, and the namespaces, their devices and every process running in them
# are removed when the script exits, fails, or gets SIGINT/SIGTERM/SIGHUP.
#
# Traps: the library owns the EXIT, INT, TERM and HUP traps of the sourcing shell. An
# EXIT trap that already exists when the first namespace is created is kept (it runs
# during cleanup). After that, do not call `trap ... EXIT` yourself: register extra
# cleanup with qnetns_on_exit instead.
#
# Conventions: functions return non-zero and print "[qnetns] error: ..." on stderr on
# failure (so `set -e` scripts stop and clean up); qnet_assert_safe_addr exits instead.
# Shell functions cannot be run through qnetns_exec (it execs a program); wrap them in
# `bash -c` if needed. qrun_bounded does accept shell functions.

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  echo "netns.sh is a library: source it from a bash test script (see the header)" >&2
  exit 2
fi
if [[ -n "${_QNETNS_LIB_LOADED:-}" ]]; then
  return 0
fi
_QNETNS_LIB_LOADED=1

# Directory of this library (for sibling helpers such as tapprobe.py).
QNETNS_LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export QNETNS_LIB_DIR

_QNETNS_LIST=()          # namespaces created by this shell, in creation order (deleted at cleanup)
_QNETNS_KNOWN=()         # namespaces the helpers may act on (created here, or by the parent
                         # shell when running under qrun_bounded)
_QNETNS_CLEANUP_CMDS=()  # extra cleanup commands (qnetns_on_exit), run in reverse order
_QNETNS_TRAPS_SET=0
# Mark put on frames duplicated by qnetns_nft_dup so a copy is never duplicated again.
_QNETNS_DUP_MARK=0x51a3

# _qlog MSG...: progress message on stderr.
_qlog() { printf '[qnetns] %s\n' "$*" >&2; }

# _qerr MSG...: error message on stderr; always returns 1.
_qerr() {
  printf '[qnetns] error: %s\n' "$*" >&2
  return 1
}

# _qnetns_require_root: fail unless running as root (namespaces, tap and nft need it).
_qnetns_require_root() {
  if [[ ${EUID} -ne 0 ]]; then
    _qerr "network namespaces need root (running as uid ${EUID}); interop tests must run as root"
    return 1
  fi
}

# _qnetns_exists NS: true if the named namespace exists (/run/netns/NS).
_qnetns_exists() { [[ -e "/run/netns/$1" ]]; }

# _qnetns_owned NS: true if NS was created through qnetns_create by this shell (or by
# the shell that started this one through qrun_bounded).
_qnetns_owned() {
  local n
  for n in "${_QNETNS_KNOWN[@]}"; do
    [[ "$n" == "$1" ]] && return 0
  done
  return 1
}

# _qnetns_check_ns NS: fail unless NS is a namespace created by this library
# (so a typo can never make a helper touch the host or someone else's namespace).
_qnetns_check_ns() {
  [[ -n "${1:-}" ]] || { _qerr "missing namespace argument"; return 1; }
  _qnetns_owned "$1" || { _qerr "namespace '$1' was not created by qnetns_create in this shell"; return 1; }
  _qnetns_exists "$1" || { _qerr "namespace '$1' does not exist (any more)"; return 1; }
}

# _qnetns_check_dev DEV: fail unless DEV is a valid interface name (1..15 chars,
# no '/', whitespace or quotes).
_qnetns_check_dev() {
  [[ "${1:-}" =~ ^[A-Za-z0-9_.:-]{1,15}$ ]] || { _qerr "invalid device name '${1:-}'"; return 1; }
}

# _qnetns_check_percent P: fail unless P is an integer in 0..100.
_qnetns_check_percent() {
  if [[ "${1:-}" =~ ^[0-9]{1,3}$ ]] && (( 10#$1 <= 100 )); then
    return 0
  fi
  _qerr "percent must be an integer 0..100, got '${1:-}'"
}

# _qnetns_pids_by_inode INODE: pids of all processes whose network namespace has
# inode INODE (what `ip netns pids` does, but usable after the name is gone).
_qnetns_pids_by_inode() {
  local link
  # One find(1) call instead of a readlink per process; the brackets are escaped for
  # -lname's glob.
  while read -r link; do
    link="${link#/proc/}"
    printf '%s ' "${link%%/*}"
  done < <(find /proc/[0-9]*/ns/net -maxdepth 0 -lname "net:\\[$1\\]" 2>/dev/null)
}

# _qnetns_kill_all INODE SIGNAL: send SIGNAL to every process in the namespace with
# inode INODE; true if there was any.
_qnetns_kill_all() {
  local pids
  pids="$(_qnetns_pids_by_inode "$1")"
  [[ -n "${pids// /}" ]] || return 1
  # shellcheck disable=SC2086  # word splitting of the pid list is intended
  kill "-$2" $pids 2>/dev/null
  return 0
}

# _qnetns_destroy NS: kill every process in NS (TERM, then KILL after ~2 s), delete
# NS (its tap devices go with it), then sweep once more for processes that entered NS
# while it was being deleted (e.g. a backgrounded `qnetns_exec NS ...` racing with a
# failing script). A file descriptor on NS is held throughout, so its inode cannot be
# reused by someone else's namespace while we match processes against it.
# Never fails; reports leftovers.
_qnetns_destroy() {
  local ns="$1" ino fd i
  _qnetns_exists "$ns" || return 0
  ino="$(stat -L -c %i "/run/netns/$ns" 2>/dev/null)" || ino=""
  if [[ -n "$ino" ]] && exec {fd}<"/run/netns/$ns"; then
    if _qnetns_kill_all "$ino" TERM; then
      for ((i = 0; i < 20; i++)); do
        [[ -z "$(_qnetns_pids_by_inode "$ino")" ]] && break
        sleep 0.1
      done
      _qnetns_kill_all "$ino" KILL
    fi
    ip netns del "$ns" 2>/dev/null
    # Late arrivals: a few rounds, because `ip netns exec` may have opened NS just
    # before the delete and be about to enter it.
    for ((i = 0; i < 5; i++)); do
      _qnetns_kill_all "$ino" KILL
      sleep 0.05
    done
    if [[ -n "$(_qnetns_pids_by_inode "$ino")" ]]; then
      printf '[qnetns] error: processes still in deleted namespace %s: %s\n' "$ns" "$(_qnetns_pids_by_inode "$ino")" >&2
    fi
    exec {fd}<&-
  else
    ip netns del "$ns" 2>/dev/null
  fi
  if _qnetns_exists "$ns"; then
    printf '[qnetns] error: could not delete namespace %s; remove it with: ip netns del %s\n' "$ns" "$ns" >&2
  else
    _qlog "deleted namespace $ns"
  fi
}

# _qnetns_cleanup: run qnetns_on_exit commands (newest first), then destroy every
# namespace this shell created (newest first). Idempotent; keeps the caller's $?.
_qnetns_cleanup() {
  local rc=$? i
  set +e
  for ((i = ${#_QNETNS_CLEANUP_CMDS[@]} - 1; i >= 0; i--)); do
    eval "${_QNETNS_CLEANUP_CMDS[i]}"
  done
  _QNETNS_CLEANUP_CMDS=()
  for ((i = ${#_QNETNS_LIST[@]} - 1; i >= 0; i--)); do
    _qnetns_destroy "${_QNETNS_LIST[i]}"
  done
  _QNETNS_LIST=()
  return "$rc"
}

# _qnetns_on_signal CODE: signal handler: clean up, then exit with CODE (128+signal).
_qnetns_on_signal() {
  trap - INT TERM HUP
  _qlog "interrupted; cleaning up"
  _qnetns_cleanup
  exit "$1"
}

# _qnetns_install_traps: arm the EXIT/INT/TERM/HUP traps once; an existing EXIT trap
# is preserved as the first registered cleanup command.
_qnetns_install_traps() {
  (( _QNETNS_TRAPS_SET )) && return 0
  local prev
  prev="$(trap -p EXIT)"
  if [[ -n "$prev" ]]; then
    local -a parts
    eval "parts=( ${prev} )"   # trap -- 'CMD' EXIT
    _QNETNS_CLEANUP_CMDS+=("${parts[2]}")
  fi
  trap '_qnetns_cleanup' EXIT
  trap '_qnetns_on_signal 130' INT
  trap '_qnetns_on_signal 143' TERM
  trap '_qnetns_on_signal 129' HUP
  _QNETNS_TRAPS_SET=1
}

# qnetns_on_exit CMD: register shell command string CMD (eval'ed) to run at cleanup,
# before the namespaces are deleted; commands run newest first. Use this instead of
# your own EXIT trap. Example: qnetns_on_exit "rm -rf '$tmpdir'"
qnetns_on_exit() {
  [[ $# -eq 1 ]] || { _qerr "usage: qnetns_on_exit CMD"; return 1; }
  _qnetns_install_traps
  _QNETNS_CLEANUP_CMDS+=("$1")
}

# qnet_assert_safe_addr ADDR[/LEN]: EXIT the shell (status 1) unless ADDR is a dotted
# IPv4 address inside the benchmarking range 198.18.0.0/15. With /LEN, LEN must be
# 15..32 so the whole prefix stays in range. Returns 0 if the address is safe.
# To test an address without exiting, run it in a subshell: ( qnet_assert_safe_addr A ).
qnet_assert_safe_addr() {
  local a="${1:-}" o1 o2 o3 o4 len
  if [[ ! "$a" =~ ^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})(/([0-9]{1,2}))?$ ]]; then
    printf '[qnetns] UNSAFE ADDRESS: %s is not a dotted IPv4 address[/len]; refusing\n' "'$a'" >&2
    exit 1
  fi
  o1=$((10#${BASH_REMATCH[1]})) o2=$((10#${BASH_REMATCH[2]}))
  o3=$((10#${BASH_REMATCH[3]})) o4=$((10#${BASH_REMATCH[4]}))
  len="${BASH_REMATCH[6]}"
  if (( o1 > 255 || o2 > 255 || o3 > 255 || o4 > 255 )); then
    printf '[qnetns] UNSAFE ADDRESS: %s has an octet > 255; refusing\n' "$a" >&2
    exit 1
  fi
  if (( o1 != 198 || (o2 != 18 && o2 != 19) )); then
    printf '[qnetns] UNSAFE ADDRESS: %s is outside 198.18.0.0/15; tests may only use 198.18.0.0/15 (DESIGN.md, network safety)\n' "$a" >&2
    exit 1
  fi
  if [[ -n "$len" ]] && (( 10#$len < 15 || 10#$len > 32 )); then
    printf '[qnetns] UNSAFE ADDRESS: %s: prefix length must be 15..32 to stay inside 198.18.0.0/15\n' "$a" >&2
    exit 1
  fi
  return 0
}

# qnetns_create NAME [VAR]: create network namespace "quasi-NAME-$$", bring lo up,
# disable IPv6 in it (net.ipv6.conf.{all,default}.disable_ipv6=1), and arm the
# EXIT/INT/TERM/HUP cleanup that deletes it and kills everything running in it, even on
# failure. Stores the full namespace name in variable VAR (default: QNETNS).
# NAME: [A-Za-z0-9_-]+. Must be called in the main shell (not inside $(...) or a
# pipeline), or the cleanup trap and VAR would be lost with the subshell.
qnetns_create() {
  local name="${1:-}" var="${2:-QNETNS}" ns
  [[ $# -ge 1 && $# -le 2 ]] || { _qerr "usage: qnetns_create NAME [VAR]"; return 1; }
  [[ "$name" =~ ^[A-Za-z0-9_-]{1,40}$ ]] || { _qerr "invalid namespace NAME '$name' (use [A-Za-z0-9_-], max 40)"; return 1; }
  [[ "$var" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || { _qerr "invalid variable name '$var'"; return 1; }
  if [[ "${BASHPID}" != "$$" ]]; then
    _qerr "qnetns_create must run in the main shell, not in a subshell/\$(...)/pipeline (cleanup would be lost); use: qnetns_create $name VAR"
    return 1
  fi
  _qnetns_require_root || return 1
  ns="quasi-${name}-$$"
  if _qnetns_exists "$ns"; then
    _qerr "namespace $ns already exists (stale from a killed run?); remove it with: ip netns del $ns"
    return 1
  fi
  _qnetns_install_traps
  _QNETNS_LIST+=("$ns")   # registered before creation: a half-made namespace is still removed
  _QNETNS_KNOWN+=("$ns")
  ip netns add "$ns" || { _qerr "ip netns add $ns failed"; return 1; }
  ip -n "$ns" link set lo up || { _qerr "could not bring lo up in $ns"; return 1; }
  if ip netns exec "$ns" test -d /proc/sys/net/ipv6; then
    ip netns exec "$ns" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 \
      || { _qerr "could not disable IPv6 in $ns"; return 1; }
  fi
  printf -v "$var" '%s' "$ns"
  _qlog "created namespace $ns"
}

# qnetns_tap NS TAPNAME KERNEL_ADDR/LEN: inside NS create tap device TAPNAME
# (`ip -n NS tuntap add dev TAPNAME mode tap`), give the kernel side address
# KERNEL_ADDR/LEN (must pass qnet_assert_safe_addr) and set it up. The userspace
# stack then attaches to TAPNAME from inside NS (e.g. via qnetns_exec) with
# IFF_TAP|IFF_NO_PI and uses another address of the same prefix. The link shows
# NO-CARRIER until a process attaches. The device goes away with the namespace.
qnetns_tap() {
  [[ $# -eq 3 ]] || { _qerr "usage: qnetns_tap NS TAPNAME KERNEL_ADDR/LEN"; return 1; }
  local ns="$1" dev="$2" addr="$3"
  _qnetns_check_ns "$ns" || return 1
  _qnetns_check_dev "$dev" || return 1
  [[ "$addr" == */* ]] || { _qerr "qnetns_tap: address must be ADDR/LEN, got '$addr'"; return 1; }
  qnet_assert_safe_addr "$addr"
  ip -n "$ns" tuntap add dev "$dev" mode tap || { _qerr "could not create tap $dev in $ns"; return 1; }
  ip -n "$ns" addr add "$addr" dev "$dev" || { _qerr "could not add $addr to $dev in $ns"; return 1; }
  ip -n "$ns" link set "$dev" up || { _qerr "could not set $dev up in $ns"; return 1; }
  _qlog "tap $dev in $ns, kernel address $addr"
}

# qnetns_veth NS DEV KERNEL_ADDR/LEN QNS: a veth pair for a userspace stack on a raw
# socket (DPDK's net_af_packet): DEV in NS is the kernel's end with KERNEL_ADDR/LEN, DEVq
# the stack's end in namespace QNS (also made by qnetns_create), with no address. In
# one namespace the kernel would also take the frames arriving at DEVq as its own input
# (it reassembled its own fragments there, and the raw socket saw the datagram whole,
# beyond the MTU). The kernel's end has checksum offload and TSO/GSO off and the
# stack's end GRO off: a raw socket must see finished, MTU-sized frames.
qnetns_veth() {
  [[ $# -eq 4 ]] || { _qerr "usage: qnetns_veth NS DEV KERNEL_ADDR/LEN QNS"; return 1; }
  local ns="$1" dev="$2" addr="$3" qns="$4"
  _qnetns_check_ns "$ns" || return 1
  _qnetns_check_ns "$qns" || return 1
  _qnetns_check_dev "$dev" || return 1
  _qnetns_check_dev "${dev}q" || return 1
  [[ "$addr" == */* ]] || { _qerr "qnetns_veth: address must be ADDR/LEN, got '$addr'"; return 1; }
  qnet_assert_safe_addr "$addr"
  ip -n "$ns" link add "$dev" type veth peer name "${dev}q" netns "$qns" || { _qerr "could not create veth $dev in $ns"; return 1; }
  ip netns exec "$ns" ethtool -K "$dev" tx off tso off gso off >/dev/null || { _qerr "ethtool -K $dev failed"; return 1; }
  ip netns exec "$qns" ethtool -K "${dev}q" gro off >/dev/null || { _qerr "ethtool -K ${dev}q failed"; return 1; }
  ip -n "$ns" addr add "$addr" dev "$dev" || { _qerr "could not add $addr to $dev in $ns"; return 1; }
  ip -n "$qns" link set "${dev}q" up && ip -n "$ns" link set "$dev" up || { _qerr "could not set veth $dev up"; return 1; }
  _qlog "veth $dev (kernel, $addr, in $ns) <-> ${dev}q (userspace, in $qns)"
}

# qnetns_exec NS CMD [ARGS...]: run program CMD inside NS (ip netns exec) and return
# its status. Put it in the background with & as usual; whatever is still running
# in NS at cleanup is killed. Not for shell functions (use bash -c '...').
qnetns_exec() {
  [[ $# -ge 2 ]] || { _qerr "usage: qnetns_exec NS CMD [ARGS...]"; return 1; }
  local ns="$1"
  shift
  _qnetns_check_ns "$ns" || return 1
  ip netns exec "$ns" "$@"
}

# qnetns_sysctl NS KEY=VALUE...: set one or more sysctls inside NS (net.* keys are
# per namespace), e.g. qnetns_sysctl "$NS" net.ipv4.tcp_sack=0.
qnetns_sysctl() {
  [[ $# -ge 2 ]] || { _qerr "usage: qnetns_sysctl NS KEY=VALUE..."; return 1; }
  local ns="$1" kv
  shift
  _qnetns_check_ns "$ns" || return 1
  for kv in "$@"; do
    [[ "$kv" =~ ^[A-Za-z0-9_./-]+=.*$ ]] || { _qerr "qnetns_sysctl: expected KEY=VALUE, got '$kv'"; return 1; }
  done
  ip netns exec "$ns" sysctl -q -w "$@" || { _qerr "sysctl $* failed in $ns"; return 1; }
}

# _qnetns_nft_table KIND DEV: name of the nft table (family netdev) this library uses
# for impairment KIND (loss|dup) on DEV.
_qnetns_nft_table() { printf 'quasi_%s_%s' "$1" "${2//[^A-Za-z0-9_]/_}"; }

# _qnetns_nft_apply NS KIND DEV DIRECTION RULE PRIORITY: (re)create table
# quasi_KIND_DEV in NS with RULE in an ingress and/or egress chain on DEV.
# DIRECTION: ingress | egress | both. Replaces any previous table of that KIND on DEV.
_qnetns_nft_apply() {
  local ns="$1" kind="$2" dev="$3" dir="$4" rule="$5" prio="$6" table chains="" hook
  local -a hooks
  table="$(_qnetns_nft_table "$kind" "$dev")"
  case "$dir" in
    ingress | egress) hooks=("$dir") ;;
    both) hooks=(ingress egress) ;;
    *) _qerr "direction must be ingress, egress or both, got '$dir'"; return 1 ;;
  esac
  for hook in "${hooks[@]}"; do
    chains+="  chain ${hook} { type filter hook ${hook} device \"${dev}\" priority ${prio}; policy accept; ${rule}; }"$'\n'
  done
  # Create-then-delete makes the delete valid when the table does not exist yet.
  # (Here-strings, not here-documents: bash's `declare -f`, used by qrun_bounded,
  # mangles here-documents inside if-conditions.)
  local script="table netdev ${table}"$'\n'"delete table netdev ${table}"$'\n'
  script+="table netdev ${table} {"$'\n'"${chains}}"
  if ! ip netns exec "$ns" nft -f - <<<"$script"; then
    if [[ "$dir" != ingress ]]; then
      _qerr "nft $kind rule on $dev failed in $ns (the netdev egress hook needs kernel >= 5.16 and nftables >= 1.0.1; here: kernel $(uname -r), $(nft --version 2>/dev/null))"
    else
      _qerr "nft $kind rule on $dev failed in $ns"
    fi
    return 1
  fi
}

# qnetns_nft_loss NS DEV PERCENT [DIRECTION]: drop each frame on DEV (inside NS) with
# probability PERCENT/100 (0..100, integer) using an nftables netdev-family rule
# `numgen random mod 100 < PERCENT counter drop`. DIRECTION: both (default), ingress (frames
# the userspace stack writes into the tap, towards the kernel) or egress (frames the
# kernel sends to the userspace stack). Calling it again replaces the previous loss
# rule on DEV. Loss runs before duplication (priority 0 vs 10).
qnetns_nft_loss() {
  [[ $# -ge 3 && $# -le 4 ]] || { _qerr "usage: qnetns_nft_loss NS DEV PERCENT [both|ingress|egress]"; return 1; }
  local ns="$1" dev="$2" pct="$3" dir="${4:-both}"
  _qnetns_check_ns "$ns" || return 1
  _qnetns_check_dev "$dev" || return 1
  _qnetns_check_percent "$pct" || return 1
  _qnetns_nft_apply "$ns" loss "$dev" "$dir" "numgen random mod 100 < $((10#$pct)) counter drop" 0 || return 1
  _qlog "nft loss ${pct}% on $dev ($dir) in $ns"
}

# qnetns_nft_dup NS DEV PERCENT [egress]: duplicate each frame the kernel sends out of
# DEV (inside NS, i.e. towards the userspace stack) with probability PERCENT/100 using
# `numgen random mod 100 < PERCENT ... dup to "DEV"` on the netdev egress hook. The
# copy is marked so it is never duplicated again (without the mark, nf_dup re-enters
# the egress hook and copies get copied up to the recursion limit).
# Only egress is supported: `dup to "DEV"` transmits the copy out of DEV, so on the
# ingress hook it would bounce the userspace stack's own frame back to it instead of
# delivering it twice to the kernel; duplicate that direction in the userspace
# impairment decorator instead. Calling it again replaces the previous dup rule on DEV.
qnetns_nft_dup() {
  [[ $# -ge 3 && $# -le 4 ]] || { _qerr "usage: qnetns_nft_dup NS DEV PERCENT [egress]"; return 1; }
  local ns="$1" dev="$2" pct="$3" dir="${4:-egress}"
  _qnetns_check_ns "$ns" || return 1
  _qnetns_check_dev "$dev" || return 1
  _qnetns_check_percent "$pct" || return 1
  if [[ "$dir" != egress ]]; then
    _qerr "qnetns_nft_dup supports only egress (kernel -> userspace): 'dup to \"$dev\"' on ingress reflects the frame back to its sender"
    return 1
  fi
  local m="$_QNETNS_DUP_MARK"
  _qnetns_nft_apply "$ns" dup "$dev" egress \
    "meta mark != $m numgen random mod 100 < $((10#$pct)) counter meta mark set $m dup to \"$dev\"" 10 || return 1
  _qlog "nft dup ${pct}% on $dev (egress) in $ns"
}

# qnetns_nft_count NS KIND DEV: frames the KIND (loss|dup) rule on DEV has dropped or
# duplicated so far (its counter, summed over its chains); 0 without such a rule.
qnetns_nft_count() {
  [[ $# -eq 3 ]] || { _qerr "usage: qnetns_nft_count NS KIND DEV"; return 1; }
  local table
  table="$(_qnetns_nft_table "$2" "$3")"
  ip netns exec "$1" nft list table netdev "$table" 2>/dev/null |
    awk '{ for (i = 1; i < NF; ++i) if ($i == "counter" && $(i + 1) == "packets") n += $(i + 2) } END { print n + 0 }'
}

# qnetns_nft_clear NS DEV: remove the loss and dup rules this library installed on DEV.
qnetns_nft_clear() {
  [[ $# -eq 2 ]] || { _qerr "usage: qnetns_nft_clear NS DEV"; return 1; }
  local ns="$1" dev="$2" kind table
  _qnetns_check_ns "$ns" || return 1
  _qnetns_check_dev "$dev" || return 1
  for kind in loss dup; do
    table="$(_qnetns_nft_table "$kind" "$dev")"
    ip netns exec "$ns" nft -f - <<<"table netdev ${table}"$'\n'"delete table netdev ${table}" \
      || { _qerr "could not remove nft table $table in $ns"; return 1; }
  done
}

# _qnow_us: current time in microseconds (EPOCHREALTIME, bash >= 5).
_qnow_us() { local t="${EPOCHREALTIME/[.,]/}"; printf '%s' "$t"; }

# _qsec_to_us S: convert seconds (integer or decimal, e.g. 2.5) to microseconds.
_qsec_to_us() {
  local s="$1" int frac
  [[ "$s" =~ ^([0-9]+)(\.([0-9]{1,6}))?[0-9]*$ ]] || return 1
  int="${BASH_REMATCH[1]}" frac="${BASH_REMATCH[3]}000000"
  printf '%s' "$(( 10#$int * 1000000 + 10#${frac:0:6} ))"
}

# qwait_for CMD TIMEOUT_S [INTERVAL_S]: evaluate shell command string CMD (eval, so
# functions and pipelines work; its output is discarded) every INTERVAL_S seconds
# (default 0.1) until it succeeds (return 0) or TIMEOUT_S seconds (decimal allowed)
# have passed (message on stderr, return 1). CMD itself must be quick or bounded.
# Example: qwait_for "qnetns_exec $NS ping -c1 -W1 198.18.0.2" 10
qwait_for() {
  [[ $# -ge 2 && $# -le 3 ]] || { _qerr "usage: qwait_for CMD TIMEOUT_S [INTERVAL_S]"; return 1; }
  local cmd="$1" tmo interval="${3:-0.1}" deadline
  tmo="$(_qsec_to_us "$2")" || { _qerr "qwait_for: bad timeout '$2'"; return 1; }
  _qsec_to_us "$interval" >/dev/null || { _qerr "qwait_for: bad interval '$interval'"; return 1; }
  deadline=$(( $(_qnow_us) + tmo ))
  while :; do
    if ( eval "$cmd" ) >/dev/null 2>&1; then
      return 0
    fi
    if (( $(_qnow_us) >= deadline )); then
      printf '[qnetns] timed out after %ss waiting for: %s\n' "$2" "$cmd" >&2
      return 1
    fi
    sleep "$interval"
  done
}

# qrun_bounded SECONDS CMD [ARGS...]: run CMD with a hard time limit via `timeout`
# (TERM at SECONDS, KILL 5 s later, to CMD and all its children). Returns CMD's status,
# or 124 (137 if it had to be killed) on timeout, with a message on stderr. CMD may be
# a program or a shell function (run in a child bash that gets this shell's function
# definitions but not its variables). Example: qrun_bounded 30 qnetns_exec "$NS" iperf3 -c 198.18.0.2 -t 5
qrun_bounded() {
  [[ $# -ge 2 ]] || { _qerr "usage: qrun_bounded SECONDS CMD [ARGS...]"; return 1; }
  local secs="$1" rc
  shift
  _qsec_to_us "$secs" >/dev/null || { _qerr "qrun_bounded: bad SECONDS '$secs'"; return 1; }
  if declare -F "$1" >/dev/null; then
    # Function: give the child bash every function definition and the names of the
    # namespaces this shell may use (so qnetns_* helpers accept them). The child owns
    # none of them: it only deletes namespaces it creates itself.
    local prelude
    prelude="$(declare -f)"$'\n'"_QNETNS_LIB_LOADED=1; _QNETNS_TRAPS_SET=0; _QNETNS_LIST=(); _QNETNS_CLEANUP_CMDS=()"
    prelude+="; QNETNS_LIB_DIR=$(printf '%q' "$QNETNS_LIB_DIR"); _QNETNS_DUP_MARK=$_QNETNS_DUP_MARK"
    prelude+="; _QNETNS_KNOWN=()"
    if (( ${#_QNETNS_KNOWN[@]} )); then
      prelude+="; _QNETNS_KNOWN=($(printf '%q ' "${_QNETNS_KNOWN[@]}"))"
    fi
    timeout --kill-after=5 "$secs" bash -c "${prelude}"$'\n''"$@"' qrun_bounded "$@"
    rc=$?
  else
    timeout --kill-after=5 "$secs" "$@"
    rc=$?
  fi
  if (( rc == 124 || rc == 137 )); then
    printf '[qnetns] time limit of %ss reached (status %d): %s\n' "$secs" "$rc" "$*" >&2
  fi
  return "$rc"
}
