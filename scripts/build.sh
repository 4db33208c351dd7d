#!/usr/bin/env bash
# scripts/build.sh: configure (Ninja, RelWithDebInfo) and build quasi.
#
# Usage: scripts/build.sh [BUILD_DIR] [EXTRA_CMAKE_ARGS...]
#
#   BUILD_DIR         default: build/ in the repository root; a relative path is taken
#                     relative to the current directory. Must not start with '-'.
#   EXTRA_CMAKE_ARGS  passed to the configure step, e.g. -DQUASI_SANITIZE=ON
#
# Environment: CC/CXX pick the compilers on the first configure of a directory;
# CMAKE_BUILD_TYPE overrides RelWithDebInfo; QUASI_JOBS overrides -j$(nproc).
# Examples:
#   scripts/build.sh
#   scripts/build.sh build-asan -DQUASI_SANITIZE=ON
#   CC=clang-19 CXX=clang++-19 scripts/build.sh build-fuzz -DQUASI_FUZZ=ON
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

die() {
  printf 'build.sh: error: %s\n' "$*" >&2
  exit 1
}

case "${1:-}" in
  -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
esac

build_dir="$ROOT/build"
if [[ $# -gt 0 && "$1" != -* ]]; then
  build_dir="$1"
  shift
fi
[[ "$build_dir" == /* ]] || build_dir="$PWD/$build_dir"

command -v cmake >/dev/null || die "cmake not found; run scripts/setup.sh core"
command -v ninja >/dev/null || die "ninja not found; run scripts/setup.sh core"

# A directory configured with another generator cannot be reused; say so clearly.
cache="$build_dir/CMakeCache.txt"
if [[ -f "$cache" ]]; then
  gen="$(sed -n 's/^CMAKE_GENERATOR:INTERNAL=//p' "$cache")"
  if [[ -n "$gen" && "$gen" != Ninja ]]; then
    die "$build_dir was configured with generator '$gen', not Ninja; remove it (rm -rf '$build_dir') and rerun"
  fi
fi

jobs="${QUASI_JOBS:-$(nproc)}"
echo "build.sh: configuring $build_dir (Ninja, ${CMAKE_BUILD_TYPE:-RelWithDebInfo}${*:+, $*})"
# -Werror here (developers and CI); a plain cmake build leaves it off.
cmake -S "$ROOT" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="${CMAKE_BUILD_TYPE:-RelWithDebInfo}" -DQUASI_WERROR=ON "$@"
echo "build.sh: building $build_dir with -j$jobs"
cmake --build "$build_dir" -j "$jobs"
