#!/usr/bin/env bash
# tests/dpdk/dpdk_eal_start_stop.sh BUILD_DIR: quasi-echo --dpdk's start-up errors and its
# clean shutdown, against real EAL (no NIC, no network: net_ring vdevs only).
#
#  1. No hugepages reserved and no --no-huge: exit 1 and the one-line hint (skipped when
#     the machine has hugepages: EAL would then start).
#  2. No port (no vdev, --no-pci): exit 1, "DPDK found no port".
#  3. A vdev that fails to probe (net_af_packet on an interface that does not exist):
#     exit 1, "DPDK found no port" after EAL's own line about the vdev.
#  4. A clean run on net_ring0 for 2 s: while it runs its run directory exists; at exit
#     (status 0) every mbuf is back in its mempool and the run directory is gone.
# Each case asserts also that the failed start left no run directory behind.
# Root: EAL's run directory is /var/run/dpdk/PREFIX (else $XDG_RUNTIME_DIR or /tmp).
set -uo pipefail
B="$(cd "${1:?usage: dpdk_eal_start_stop.sh BUILD_DIR}" && pwd)"
ECHO="$B/apps/quasi-echo"
[[ -x "$ECHO" ]] || { echo "dpdk_eal_start_stop: $ECHO is not built" >&2; exit 2; }
PREFIX="quasi-ealtest-$$"
RUN_BASE=/var/run/dpdk
((EUID == 0)) || RUN_BASE="${XDG_RUNTIME_DIR:-/tmp}/dpdk"
TMP="$(mktemp -d /tmp/quasi-ealtest.XXXXXX)"
trap 'rm -rf "$TMP"; rm -rf "$RUN_BASE/$PREFIX"-*' EXIT
fails=0 checks=0

check() {  # check DESCRIPTION COMMAND...
  local desc="$1"
  shift
  checks=$((checks + 1))
  if "$@"; then
    echo "[dpdk_eal_start_stop] ok - $desc"
  else
    echo "[dpdk_eal_start_stop] FAIL - $desc"
    fails=$((fails + 1))
  fi
}

# start NAME EAL_ARGS...: quasi-echo for at most 2 s with those EAL arguments; its status
# in $rc, its output in $TMP/NAME.log.
start() {
  local name="$1"
  shift
  timeout --kill-after=5 30 "$ECHO" --dpdk --ip 198.18.0.2/24 --udp-port 7 --seconds 2 -- \
    --no-shconf --no-telemetry "--file-prefix=$PREFIX-$name" "$@" >"$TMP/$name.log" 2>&1
  rc=$?
  sed 's/^/  /' "$TMP/$name.log"
}

no_dir() { [[ ! -e "$RUN_BASE/$PREFIX-$1" ]]; }

if [[ "$(awk '/^HugePages_Total:/ { print $2 }' /proc/meminfo)" == 0 ]]; then
  start nohuge -l 0 --no-pci --vdev=net_ring0
  check "no hugepages: exit 1 (was $rc)" test "$rc" -eq 1
  check "no hugepages: says so and how to run without them" grep -q 'no hugepages reserved? add --no-huge' "$TMP/nohuge.log"
  check "no hugepages: no run directory left" no_dir nohuge
else
  echo "[dpdk_eal_start_stop] the machine has hugepages: case 1 skipped"
fi

start noport -l 0 --no-huge -m 256 --no-pci
check "no port: exit 1 (was $rc)" test "$rc" -eq 1
check "no port: says so" grep -q '^quasi-echo: DPDK found no port' "$TMP/noport.log"
check "no port: no run directory left" no_dir noport

start noiface -l 0 --no-huge -m 256 --no-pci --vdev=net_af_packet0,iface=qnoiface$$
check "a vdev that does not probe: exit 1 (was $rc)" test "$rc" -eq 1
check "a vdev that does not probe: EAL names it" grep -q 'failed to initialize net_af_packet0' "$TMP/noiface.log"
check "a vdev that does not probe: then no port" grep -q '^quasi-echo: DPDK found no port' "$TMP/noiface.log"
check "a vdev that does not probe: no run directory left" no_dir noiface

# 4. The clean run: the run directory must exist while it runs, so its absence after
# means quasi removed it.
timeout --kill-after=5 30 "$ECHO" --dpdk --ip 198.18.0.2/24 --udp-port 7 --seconds 2 -- \
  -l 0 --no-huge -m 256 --no-pci --no-shconf --no-telemetry "--file-prefix=$PREFIX-clean" --vdev=net_ring0 \
  >"$TMP/clean.log" 2>&1 &
pid=$!
seen=0
for ((i = 0; i < 100; i++)); do  # at most 10 s
  [[ -d "$RUN_BASE/$PREFIX-clean" ]] && { seen=1; break; }
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
wait "$pid"
rc=$?
sed 's/^/  /' "$TMP/clean.log"
check "clean run: its run directory existed while it ran" test "$seen" -eq 1
check "clean run: exit 0 (was $rc)" test "$rc" -eq 0
check "clean run: every mbuf back in its mempool" grep -q 'mbufs not in their mempools after stop: 0 of' "$TMP/clean.log"
check "clean run: run directory removed at exit" no_dir clean

if ((fails > 0)); then
  echo "[dpdk_eal_start_stop] $fails of $checks checks FAILED"
  exit 1
fi
echo "[dpdk_eal_start_stop] all $checks checks passed"
