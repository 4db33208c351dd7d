#!/usr/bin/env bash
# scripts/test.sh: the one test command (what CI runs).
#
# Usage: scripts/test.sh
#
# Phases, each with a banner and its elapsed time; the script stops at the first
# failing phase with a non-zero exit status:
#   setup      scripts/setup.sh test (installs only what is missing)
#   build      scripts/build.sh build                        (RelWithDebInfo, Ninja)
#              and scripts/board.sh build build-board         (the mps2-an385 firmware, label board)
#   netns-lib  tests/interop/lib/selftest.sh (namespaces, tap, nftables on this machine)
#   test       ctest in build/: every test (labels unit, interop, fuzz, ...)
#   release    a plain CMake Release build (-O3, as a user or packager builds; JIT off) in
#              build-release with -Werror: the core, the Linux ports and the tests GCC's
#              -O3 inlining warned in before (tcp_state_test, tcp_time_wait_test), run
#   aarch64    the unit and remote tests' targets cross-built for AArch64 Linux (static, -DQUASI_JIT=OFF:
#              LLVM's arm64 packages do not install beside the amd64 ones) in build-aarch64, run
#              under qemu-aarch64: ctest -L unit, specd_test, and interop_icmp_ping +
#              interop_udp_echo + remote_tap (tap; the last a RemoteClient device against quasi-specd)
#   mutation   scripts/mutation_check.sh: every source mutation in tests/mutations.txt must
#              make its named unit test fail (scratch tree and build in build-mutation/)
#   asan       build-asan -DQUASI_SANITIZE=ON -DQUASI_JIT=OFF, only the unit tests' targets; ctest -L unit there
#   tsan       build-tsan -DQUASI_TSAN=ON, only guards_threads_test built and run: two stacks on
#              two threads with specialized handles while a third invalidates (ThreadSanitizer)
#   fuzz       build-fuzz with clang-19 -DQUASI_FUZZ=ON -DQUASI_JIT=OFF, only the fuzzers;
#              ctest -L fuzz there
#
# A phase that finds no test registered (an empty ctest selection) fails: nothing ran.
#
# Must run as root: the interop tests create network namespaces and tap devices.
#
# Developer switches (the default runs everything; skipped phases are announced):
#   QUASI_SKIP_MUTATION=1  skip the mutation phase
#   QUASI_SKIP_ASAN=1      skip the asan phase
#   QUASI_SKIP_TSAN=1      skip the tsan phase
#   QUASI_SKIP_FUZZ=1      skip the fuzz phase
#   QUASI_SKIP_AARCH64=1   skip the aarch64 phase
#   QUASI_SKIP_RELEASE=1   skip the release phase
#   QUASI_SKIP_INTEROP=1   run without root: skip netns-lib and exclude label interop
#   QUASI_TEST_JOBS=N      ctest parallelism (default 2)
#   QUASI_TEST_TIMEOUT=S   per-test time limit for tests that set none (default 900)
#   QUASI_BUILD_PREFIX=P   build directories P, P-board, P-release, P-aarch64, P-mutation, P-asan, P-tsan, P-fuzz (default: build in the repo)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

case "${1:-}" in
  -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
  "") ;;
  *) echo "test.sh: takes no arguments (see --help)" >&2; exit 2 ;;
esac

SKIP_INTEROP="${QUASI_SKIP_INTEROP:-0}"
JOBS="${QUASI_TEST_JOBS:-2}"
TIMEOUT="${QUASI_TEST_TIMEOUT:-900}"
B="${QUASI_BUILD_PREFIX:-$ROOT/build}"

STATE="$(mktemp -d /tmp/quasi-test.XXXXXX)"
trap 'rm -rf "$STATE"' EXIT
: >"$STATE/warnings"
: >"$STATE/summary"
T_START=$SECONDS

banner() { printf '\n==================== %s ====================\n' "$*"; }

# warn MSG: print a warning now and repeat it in the final summary.
warn() {
  printf 'test.sh: WARNING: %s\n' "$*" >&2
  printf '%s\n' "$*" >>"$STATE/warnings"
}

# summary_line NAME STATUS SECONDS
summary_line() { printf '  %-10s %-8s %5ss\n' "$1" "$2" "$3" >>"$STATE/summary"; }

print_summary() {
  echo
  echo "test.sh: summary (total $((SECONDS - T_START))s):"
  cat "$STATE/summary"
  if [[ -s "$STATE/warnings" ]]; then
    echo "test.sh: warnings:"
    sed 's/^/  - /' "$STATE/warnings"
  fi
}

# phase NAME DESCRIPTION FUNCTION: run FUNCTION in a subshell with errexit, time it,
# and stop the whole script if it fails.
phase() {
  local name="$1" desc="$2" fn="$3" t0 rc
  banner "$name: $desc"
  t0=$SECONDS
  set +e
  (
    set -euo pipefail
    "$fn"
  )
  rc=$?
  set -e
  if ((rc != 0)); then
    banner "$name: FAILED (exit $rc) after $((SECONDS - t0))s"
    summary_line "$name" FAILED $((SECONDS - t0))
    print_summary
    exit "$rc"
  fi
  banner "$name: OK in $((SECONDS - t0))s"
  summary_line "$name" ok $((SECONDS - t0))
}

skip() {
  banner "$1: SKIPPED ($2)"
  summary_line "$1" skipped 0
}

# optional_phase NAME DESCRIPTION FUNCTION WHAT: a phase the developer switch
# QUASI_SKIP_<NAME>=1 skips; a skipped phase is announced, and WHAT (what did not
# run) repeated as a warning in the summary.
optional_phase() {
  local name="$1" desc="$2" fn="$3" what="$4" switch
  switch="QUASI_SKIP_${name^^}"
  if [[ "${!switch:-0}" == 1 ]]; then
    skip "$name" "$switch=1"
    warn "$switch=1: $what NOT run"
  else
    phase "$name" "$desc" "$fn"
  fi
}

# count_tests DIR [CTEST_ARGS...]: number of tests ctest would run.
count_tests() {
  local dir="$1"
  shift
  ctest --test-dir "$dir" -N "$@" | sed -n 's/^Total Tests: \([0-9]*\)$/\1/p'
}

# selected_targets DIR [CTEST_ARGS...]: the build targets behind the tests ctest would
# select, one per line: a target of the test's own name (a custom target gathering what
# a script runs), and every file in DIR a selected test's add_test() names (its
# command, a `sh -c` argument, or -DVAR=PATH for a `cmake -P` script), each kept where
# it is a target of DIR's build. Read from the CTestTestfile.cmake files, since ctest itself
# shows no command whose executable is not built yet. Sanitizer phases build only these.
selected_targets() {
  local dir
  dir="$(realpath "$1")"
  shift
  comm -12 \
    <(ctest --test-dir "$dir" --show-only=json-v1 "$@" | python3 -c '
import json, os, pathlib, re, sys
root = sys.argv[1]
selected = {test["name"] for test in json.load(sys.stdin)["tests"]}
print(*selected, sep="\n")
add_test = re.compile(r"^add_test\(\[=\[(.*?)\]=\]\s(.*)\)$")
for testfile in pathlib.Path(root).rglob("CTestTestfile.cmake"):
    for line in testfile.read_text().splitlines():
        m = add_test.match(line)
        if not m or m.group(1) not in selected:
            continue
        for arg in re.findall(r"\"([^\"]*)\"", m.group(2)):
            path = arg.split("=", 1)[1] if arg.startswith("-D") and "=" in arg else arg
            if path.startswith(root + "/"):
                print(os.path.basename(path))' "$dir" | sort -u) \
    <(ninja -C "$dir" -t targets all | sed -n 's/^\([^:/]*\): phony$/\1/p' | sort -u)
}

# build_selected DIR "CTEST_ARGS" [CMAKE_ARGS...]: configure DIR as scripts/build.sh
# does (Ninja, RelWithDebInfo, -Werror) and build only the targets of the selected tests.
build_selected() {
  local dir="$1" select="$2" targets
  shift 2
  cmake -S "$ROOT" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQUASI_WERROR=ON "$@" >/dev/null
  # shellcheck disable=SC2086 # $select is a list of ctest arguments
  mapfile -t targets < <(selected_targets "$dir" $select)
  if [[ ${#targets[@]} -eq 0 ]]; then
    echo "test.sh: error: no build targets found for the tests selected by '$select' in $dir" >&2
    return 1
  fi
  echo "test.sh: building ${#targets[@]} target(s) in $dir: ${targets[*]}"
  cmake --build "$dir" -j "$(nproc)" --target "${targets[@]}"
}

# run_ctest DIR LABEL_DESC [CTEST_ARGS...]: run ctest; fail if nothing matched (a
# phase that runs no test must not pass, e.g. fuzz targets that stopped registering).
run_ctest() {
  local dir="$1" what="$2" n
  shift 2
  n="$(count_tests "$dir" "$@")"
  if [[ "${n:-0}" -eq 0 ]]; then
    echo "test.sh: error: no $what tests are registered in $dir: nothing ran" >&2
    return 1
  fi
  echo "test.sh: running $n $what test(s) in $dir"
  ctest --test-dir "$dir" --output-on-failure -j "$JOBS" --timeout "$TIMEOUT" "$@"
}

do_setup() { "$ROOT/scripts/setup.sh" test; }

do_build() {
  "$ROOT/scripts/build.sh" "$B"
  "$ROOT/scripts/board.sh" build "$B-board"
}

do_netns_lib() { "$ROOT/tests/interop/lib/selftest.sh"; }

do_test() {
  if [[ "$SKIP_INTEROP" == 1 ]]; then
    run_ctest "$B" "non-interop" -LE interop
  else
    run_ctest "$B" "(all labels)"
  fi
}

do_aarch64() {
  local dir="$B-aarch64" targets
  # -O2 as the host build (GCC 12 at -O3 warns falsely inside std::string), without
  # debug info: the cross build is the slow part of this phase.
  # QUASI_SPECD_HOST: specd_test (label remote) runs as an AArch64 device against the
  # host build's quasi-specd over loopback and runs the code it gets under qemu.
  cmake -S "$ROOT" -B "$dir" -G Ninja -DQUASI_JIT=OFF -DQUASI_WERROR=ON -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" \
    -DCMAKE_TOOLCHAIN_FILE="$ROOT/ports/arm/toolchain-aarch64-linux-gnu.cmake" -DQUASI_SPECD_HOST="$B/apps/quasi-specd" >/dev/null
  mapfile -t targets < <(selected_targets "$dir" -L 'unit|remote')
  cmake --build "$dir" -j "$(nproc)" --target "${targets[@]}" quasi-echo
  run_ctest "$dir" "unit (AArch64, qemu-aarch64)" -L unit
  run_ctest "$dir" "remote (AArch64 device, host quasi-specd)" -R '^specd_test$'
  if [[ "$SKIP_INTEROP" != 1 ]]; then
    run_ctest "$dir" "tap interop (AArch64 quasi-echo and quasi-remote-client under qemu-aarch64)" -R '^(interop_(icmp_ping|udp_echo)|remote_tap)$'
  fi
}

do_release() {
  local dir="$B-release"
  # CMake's own Release flags (-O3 -DNDEBUG), not scripts/build.sh's; -Werror so a
  # warning GCC's -O3 inlining finds cannot come back unseen.
  cmake -S "$ROOT" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DQUASI_JIT=OFF -DQUASI_WERROR=ON >/dev/null
  cmake --build "$dir" -j "$(nproc)" --target quasi quasi_ports_x86 tcp_state_test tcp_time_wait_test
  run_ctest "$dir" "unit (Release)" -R '^(tcp_state_test|tcp_time_wait_test)$'
}

do_mutation() { QUASI_BUILD_PREFIX="$B" "$ROOT/scripts/mutation_check.sh"; }

do_asan() {
  # The JIT (jit/, bench/) is not needed for the unit label and is the slowest to build;
  # only the unit tests' targets are built.
  # -O1 -g1, as the sanitizers' own documentation advises: half the compile time of -O2
  # -g under ASan+UBSan, and without -DNDEBUG the stack's assert()s are checked too.
  build_selected "$B-asan" "-L unit" -DQUASI_SANITIZE=ON -DQUASI_JIT=OFF \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1"
  export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:check_initialization_order=1:strict_init_order=1:abort_on_error=1}"
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
  run_ctest "$B-asan" "unit (ASan+UBSan)" -L unit
}

do_tsan() {
  # One target: the whole tree under TSan would take the LLVM TUs twice over for nothing.
  cmake -S "$ROOT" -B "$B-tsan" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQUASI_WERROR=ON -DQUASI_TSAN=ON >/dev/null
  cmake --build "$B-tsan" --target guards_threads_test -j "$(nproc)"
  export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}"
  run_ctest "$B-tsan" "guards threads (TSan)" -R '^guards_threads_test$'
}

do_fuzz() {
  command -v clang-19 >/dev/null || { echo "test.sh: clang-19 not found (scripts/setup.sh test installs it)" >&2; return 1; }
  # The -D compiler settings matter when build-fuzz/ already exists (CC/CXX only
  # apply to a fresh configure).
  CC=clang-19 CXX=clang++-19 build_selected "$B-fuzz" "-L fuzz" -DQUASI_FUZZ=ON -DQUASI_JIT=OFF \
    -DCMAKE_C_COMPILER=clang-19 -DCMAKE_CXX_COMPILER=clang++-19
  export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
  run_ctest "$B-fuzz" "fuzz" -L fuzz
}

echo "test.sh: repository $ROOT, $(nproc) CPUs, kernel $(uname -r)"

if [[ ${EUID} -ne 0 ]]; then
  if [[ "$SKIP_INTEROP" != 1 ]]; then
    cat >&2 <<EOF
test.sh: error: must run as root (running as uid ${EUID}).
  The interop tests create network namespaces and tap devices, which needs root.
  Run:  sudo $0
  (A developer can run everything except interop tests as non-root with
   QUASI_SKIP_INTEROP=1 $0 -- this is not a full test run.)
EOF
    exit 1
  fi
fi
if [[ "$SKIP_INTEROP" == 1 ]]; then
  warn "QUASI_SKIP_INTEROP=1: interop tests and the netns library self-test were NOT run"
fi

phase setup "scripts/setup.sh test" do_setup
phase build "scripts/build.sh $B (RelWithDebInfo)" do_build
if [[ "$SKIP_INTEROP" == 1 ]]; then
  skip netns-lib "QUASI_SKIP_INTEROP=1"
else
  phase netns-lib "tests/interop/lib/selftest.sh" do_netns_lib
fi
phase test "ctest --test-dir $B (all tests)" do_test
optional_phase release "$B-release (CMAKE_BUILD_TYPE=Release, -Werror), 2 unit tests" do_release \
  "the Release build was"
optional_phase aarch64 "$B-aarch64 (AArch64 Linux under qemu-aarch64), ctest -L unit, specd_test + 3 tap tests" do_aarch64 \
  "the AArch64 build and its tests were"
optional_phase mutation "scripts/mutation_check.sh (tests/mutations.txt, $B-mutation)" do_mutation \
  "the mutation check was"
optional_phase asan "$B-asan (-DQUASI_SANITIZE=ON), ctest -L unit" do_asan "ASan+UBSan unit tests were"
optional_phase tsan "$B-tsan (-DQUASI_TSAN=ON), guards_threads_test" do_tsan "the ThreadSanitizer phase was"
optional_phase fuzz "$B-fuzz (clang-19, -DQUASI_FUZZ=ON), ctest -L fuzz" do_fuzz "fuzz tests were"

print_summary
echo "test.sh: PASSED"
