#!/usr/bin/env bash
# tests/consumer/test.sh BUILD_DIR: installs BUILD_DIR into a scratch prefix, then builds
# and runs the consumer in this folder against it twice: through find_package(quasi)
# (CMake) and through pkg-config (the core only). Removes the scratch directory.
set -euo pipefail
build="$(cd "$1" && pwd)"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/quasi-consumer.XXXXXX")"
trap 'rm -rf "$work"' EXIT
# quiet STEP...: runs STEP, showing its output only when it fails.
quiet() {
  local log
  if ! log="$("$@" 2>&1)"; then
    printf '%s\n' "$log" >&2
    echo "consumer test: failed: $*" >&2
    return 1
  fi
}

quiet cmake --install "$build" --prefix "$work/prefix"
quiet cmake -S "$here" -B "$work/build" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Release
quiet cmake --build "$work/build"
"$work/build/udp_pair"
if [[ -x "$work/build/udp_pair_jit" ]]; then "$work/build/udp_pair_jit"; fi

# pkg-config: the core and the Linux ports, no CMake.
export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig:$work/prefix/lib/x86_64-linux-gnu/pkgconfig"
# shellcheck disable=SC2046 # the flags are meant to split
c++ "$here/udp_pair.cpp" $(pkg-config --cflags --libs quasi) -o "$work/udp_pair_pc"
"$work/udp_pair_pc"
