#!/usr/bin/env bash
# scripts/demo.sh: the main demonstration: generic vs. specialized send path, in memory.
#
# Usage: scripts/demo.sh [QUASI_PERF_ARGS...]
#
# Installs what the build needs (scripts/setup.sh core; only missing packages), builds
# build/ (scripts/build.sh), then runs, each path measured side by side in one run:
#   build/apps/quasi-perf --link mem --compare [QUASI_PERF_ARGS...]
#       UDP stream, 64 B and 1472 B: generic send vs a specialized send handle
#   build/apps/quasi-perf --link mem --compare --proto tcp --size 1448 [QUASI_PERF_ARGS...]
#       TCP stream, 1448 B sends: generic vs handles with and without a declared size
# and exits with its status. The in-memory link needs no root and touches no network.
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
echo "==== demo: quasi-perf --link mem --compare $* (UDP: generic vs specialized) ===="
"$perf" --link mem --compare "$@"
echo "==== demo: quasi-perf --link mem --compare --proto tcp --size 1448 $* (TCP: generic vs specialized) ===="
"$perf" --link mem --compare --proto tcp --size 1448 "$@"
