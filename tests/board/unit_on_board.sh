#!/usr/bin/env bash
# tests/board/unit_on_board.sh BOARD_BUILD_DIR: the unit tests built for the board
# (board_wire_test.elf, board_core_test.elf, board_tcp_state_test.elf:
# ports/arm/mps2-an385/CMakeLists.txt) run in qemu-system-arm -M mps2-an385 with
# semihosting, each bounded to 120 s. Passes when every image exits 0 (RUN_ALL_TESTS's
# status, through semihosting) and its UART report says "[  PASSED  ] N tests." with
# N > 0 and nothing FAILED.
set -uo pipefail
dir="${1:?usage: unit_on_board.sh BOARD_BUILD_DIR}/ports/arm/mps2-an385"
command -v qemu-system-arm >/dev/null || { echo "unit_on_board: qemu-system-arm missing (scripts/setup.sh board)" >&2; exit 2; }
fails=0
total=0
for t in wire_test core_test tcp_state_test; do
  elf="$dir/board_$t.elf"
  [[ -f "$elf" ]] || { echo "unit_on_board: $elf is not built (scripts/board.sh build)"; fails=$((fails + 1)); continue; }
  log="$(mktemp)"
  timeout --kill-after=5 120 qemu-system-arm -M mps2-an385 -display none -monitor none -serial stdio \
    -semihosting-config enable=on,target=native -kernel "$elf" </dev/null >"$log" 2>&1
  rc=$?
  passed="$(tr -d '\r' <"$log" | sed -n 's/^\[  PASSED  \] \([0-9]*\) tests\?\.$/\1/p')"
  if ((rc != 0)) || [[ -z "$passed" || "$passed" -eq 0 ]] || grep -q '^\[  FAILED  \]' "$log"; then
    echo "unit_on_board: $t FAILED on the board (exit $rc)"
    tr -d '\r' <"$log" | grep -E '^\[  FAILED  \]|Failure|fault' | head -n 20
    fails=$((fails + 1))
  else
    echo "unit_on_board: $t: $passed tests passed on the board"
    total=$((total + passed))
  fi
  rm -f "$log"
done
((fails == 0)) || { echo "unit_on_board: $fails image(s) failed"; exit 1; }
echo "unit_on_board: all $total tests passed on mps2-an385"
