# The bare-metal board (label `board`): quasi-board-echo on qemu-system-arm -M
# mps2-an385 against the kernel over a tap in a namespace (tests/board/board_echo.sh;
# root, else skipped with 77). The firmware is built in ${CMAKE_BINARY_DIR}-board by
# scripts/board.sh (scripts/test.sh builds it in its build phase; the test rebuilds it
# only if something changed). About 20 s.
add_test(NAME board_echo
  COMMAND timeout --kill-after=5 300 bash ${PROJECT_SOURCE_DIR}/tests/board/board_echo.sh
          ${CMAKE_BINARY_DIR} ${CMAKE_BINARY_DIR}-board)
set_tests_properties(board_echo PROPERTIES LABELS board TIMEOUT 320 SKIP_RETURN_CODE 77)

# Unit tests built for the board (wire formats and checksums, core structures), run
# in QEMU with semihosting; no root needed. A few seconds.
add_test(NAME board_unit COMMAND bash ${PROJECT_SOURCE_DIR}/tests/board/unit_on_board.sh ${CMAKE_BINARY_DIR}-board)
set_tests_properties(board_unit PROPERTIES LABELS board TIMEOUT 300)
