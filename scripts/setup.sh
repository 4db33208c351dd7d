#!/usr/bin/env bash
# scripts/setup.sh: install the Debian 12 packages quasi needs (idempotent).
#
# Usage: scripts/setup.sh [-n|--dry-run] [GROUP...]     GROUP: core | board | test | all (default: all)
#
#   core  build + unit tests: compilers, CMake/Ninja, Boost, GoogleTest, Google Benchmark,
#         CLI11 and nlohmann-json (quasi-perf), libsodium (the interop clients' SHA-256),
#         python3, and LLVM 19/clang-19 (the library embeds clang-19 bitcode and quasi_jit
#         links LLVM, so nothing builds without them)
#   board the bare-metal ARM toolchain (arm-none-eabi g++ with newlib-nano and its
#         libstdc++), qemu-system-arm (mps2-an385 with its LAN9118), and the AArch64
#         Linux cross g++ with qemu-user and GoogleTest sources (scripts/board.sh; label board)
#   test  core + board + fuzzing runtime (libclang-rt-19-dev) + interop peers and tools
#         (iproute2, ping, nftables, iperf3, curl, wrk, ab, scapy) + what quasi-bench-spec
#         measures with (valgrind; liblwip-dev for its lwIP udp_sendto baseline row,
#         which is skipped cleanly without it) + gnuplot-nox (quasi-perf --plot, bench/run),
#         and DPDK (libdpdk-dev: ports/x86/dpdk and the dpdk label's tests, vdevs without
#         hugepages)
#   all   test
#
# Several groups may be given; their union is installed. Only packages that are not
# already installed (per dpkg-query) are installed; `apt-get update` runs only when
# something must be installed. Non-interactive. Needs root only when something is
# missing. --dry-run (or QUASI_SETUP_DRY_RUN=1) prints what would be installed.
set -euo pipefail

PKGS_CORE=(build-essential cmake ninja-build pkg-config libboost-dev libgtest-dev libgmock-dev libcli11-dev nlohmann-json3-dev
  libsodium-dev libbenchmark-dev python3 clang-19 llvm-19-dev)
PKGS_TEST=(libclang-rt-19-dev iproute2 iputils-ping nftables iperf3 curl wrk apache2-utils python3-scapy valgrind liblwip-dev
  gnuplot-nox libdpdk-dev)
PKGS_BOARD=(gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib googletest
  qemu-system-arm qemu-user g++-aarch64-linux-gnu)
PKGS_ALL=(googletest)

die() {
  printf 'setup.sh: error: %s\n' "$*" >&2
  exit 1
}
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

dry_run="${QUASI_SETUP_DRY_RUN:-0}"
groups=()
for arg in "$@"; do
  case "$arg" in
    -n | --dry-run) dry_run=1 ;;
    -h | --help) usage; exit 0 ;;
    core | board | test | all) groups+=("$arg") ;;
    *) usage >&2; die "unknown group or option '$arg' (groups: core, board, test, all)" ;;
  esac
done
((${#groups[@]})) || groups=(all)

wanted=()
for g in "${groups[@]}"; do
  case "$g" in
    core) wanted+=("${PKGS_CORE[@]}") ;;
    board) wanted+=("${PKGS_BOARD[@]}") ;;
    test) wanted+=("${PKGS_CORE[@]}" "${PKGS_BOARD[@]}" "${PKGS_TEST[@]}") ;;
    all) wanted+=("${PKGS_CORE[@]}" "${PKGS_BOARD[@]}" "${PKGS_TEST[@]}" "${PKGS_ALL[@]}") ;;
  esac
done
# De-duplicate, keeping order.
declare -A seen=()
pkgs=()
for p in "${wanted[@]}"; do
  [[ -n "${seen[$p]:-}" ]] && continue
  seen[$p]=1
  pkgs+=("$p")
done

command -v dpkg-query >/dev/null || die "dpkg-query not found: this script supports Debian 12 (bookworm) only"

# installed PKG: true if dpkg reports PKG as fully installed ("ii").
installed() {
  [[ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null)" == ii* ]]
}

missing=()
for p in "${pkgs[@]}"; do
  installed "$p" || missing+=("$p")
done

echo "setup.sh: groups: ${groups[*]} (${#pkgs[@]} packages)"
if ((${#missing[@]} == 0)); then
  echo "setup.sh: all ${#pkgs[@]} packages already installed; nothing to do"
  exit 0
fi
echo "setup.sh: missing ${#missing[@]} package(s): ${missing[*]}"

if [[ "$dry_run" == 1 ]]; then
  echo "setup.sh: dry run: would run: apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
  exit 0
fi

if [[ ${EUID} -ne 0 ]]; then
  die "these packages are missing and installing them needs root (running as uid ${EUID}):
    ${missing[*]}
  run as root:  sudo $0 ${groups[*]}
  or install them:  sudo apt-get install ${missing[*]}"
fi

export DEBIAN_FRONTEND=noninteractive
apt_opts=(-o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)

echo "setup.sh: apt-get update"
apt-get "${apt_opts[@]}" -q update || die "apt-get update failed (are the Debian apt repositories reachable?)"

# Report names that apt does not know before trying to install (clearer than apt's error).
unknown=()
for p in "${missing[@]}"; do
  cand="$(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/ {print $2}')"
  [[ -n "$cand" && "$cand" != "(none)" ]] || unknown+=("$p")
done
((${#unknown[@]} == 0)) || die "no installation candidate for: ${unknown[*]} (check /etc/apt/sources.list.d; Debian 12 bookworm main is required)"

echo "setup.sh: installing: ${missing[*]}"
apt-get "${apt_opts[@]}" -q -y --no-install-recommends install "${missing[@]}" \
  || die "apt-get install failed for: ${missing[*]}"

still=()
for p in "${missing[@]}"; do
  installed "$p" || still+=("$p")
done
((${#still[@]} == 0)) || die "still not installed after apt-get: ${still[*]}"
echo "setup.sh: installed ${#missing[@]} package(s): ${missing[*]}"
