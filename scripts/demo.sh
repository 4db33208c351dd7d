#!/usr/bin/env bash
# scripts/demo.sh: the main demonstration: generic vs. specialized send path, in memory.
#
# Usage: scripts/demo.sh [QUASI_PERF_ARGS...]
#
# Installs what the build needs (scripts/setup.sh core; only missing packages), builds
# build/ (scripts/build.sh), then runs, generic send() and a specialized send handle
# side by side, run by run (about 45 s on 2 cores):
#   build/apps/quasi-perf --link mem --mode both --test UDP_STREAM,TCP_STREAM,TCP_RR \
#       --duration 2 --repeat 3 [QUASI_PERF_ARGS...]
#       UDP 64 B and 1472 B datagrams, TCP 1448 B sends, TCP_RR 64 B transactions;
#       a live progress line on a terminal, then a table with min/median/max and the
#       specialized/generic ratio taken pair by pair
# and exits with its status. The in-memory link needs no root and touches no network.
# Add --baseline kernel (as root) for the Linux kernel across a veth pair beside them.
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
args=(--link mem --mode both --test UDP_STREAM,TCP_STREAM,TCP_RR --duration 2 --repeat 3 "$@")
echo "==== demo: quasi-perf ${args[*]} (generic vs specialized) ===="
exec "$perf" "${args[@]}"
