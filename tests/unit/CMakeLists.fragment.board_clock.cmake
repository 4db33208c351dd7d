# The board's SysTick time (ports/arm/mps2-an385/systick_time.hpp), generic code tested on the host.
add_executable(board_clock_test ${CMAKE_CURRENT_LIST_DIR}/board_clock_test.cpp)
target_link_libraries(board_clock_test PRIVATE quasi GTest::gtest_main)
add_test(NAME board_clock_test COMMAND board_clock_test)
set_tests_properties(board_clock_test PROPERTIES LABELS unit)
