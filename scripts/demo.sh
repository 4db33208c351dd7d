#!/usr/bin/env bash
# scripts/demo.sh: the main demonstration: generic vs. specialized send path in memory, the kernel beside them.
#
# Usage: scripts/demo.sh [QUASI_PERF_ARGS...]
#
# Installs what the build needs (scripts/setup.sh core; only missing packages), builds
# build/ (scripts/build.sh), then runs, generic send() and a specialized send handle
# side by side, run by run, and as root the Linux kernel beside them (about 70 s on
# 2 cores; 35 s without the kernel):
#   build/apps/quasi-perf --link mem --mode both [--baseline kernel] \
#       --test UDP_STREAM,TCP_STREAM,TCP_RR --duration 1 --warmup 0.3 --repeat 3 [QUASI_PERF_ARGS...]
#       UDP 64 B and 1472 B datagrams, TCP 1448 B sends, TCP_RR 64 B transactions;
#       a live progress line on a terminal, then a table with min/median/max and the
#       ratios taken pair by pair (specialized/generic, generic/kernel)
# and exits with its status. The in-memory link needs no root and touches no network;
# the kernel baseline runs across a veth pair between two namespaces quasi-perf
# creates (198.18.0.1/.2) and that vanish with it. QUASI_DEMO_KERNEL=0 leaves it out.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

case "${1:-}" in
  -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
esac

echo "==== demo: setup (core) ===="
"$ROOT/scripts/setup.sh" core
echo "==== demo: build ===="
"$ROOT/scripts/build.sh" "$ROOT/build"

perf="$ROOT/build/apps/quasi-perf"
if [[ ! -x "$perf" ]]; then
  echo "demo.sh: error: $perf was not built (the build finished, but it has no quasi-perf target yet?)" >&2
  echo "demo.sh: check apps/CMakeLists.txt for the quasi-perf executable" >&2
  exit 1
fi
args=(--link mem --mode both)
if [[ ${EUID} -eq 0 && "${QUASI_DEMO_KERNEL:-1}" != 0 ]]; then
  args+=(--baseline kernel)
fi
args+=(--test UDP_STREAM,TCP_STREAM,TCP_RR --duration 1 --warmup 0.3 --repeat 3 "$@")
echo "==== demo: quasi-perf ${args[*]} ===="
exec "$perf" "${args[@]}"
