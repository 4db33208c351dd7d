// main() of the unit tests built for the board (tests/board/unit_on_board.sh): the
// GoogleTest report goes to the UART, the result to QEMU's exit status through
// semihosting (startup.cpp), so a failing test fails the run.
#include "ports/arm/mps2-an385/board.hpp"

#include <gtest/gtest.h>

int main() {
    quasi::board::console_init();
    char name[] = "quasi-board-test";
    char no_time[] = "--gtest_print_time=0";  // no wall clock on the board
    char* argv[] = {name, no_time, nullptr};
    int argc = 2;
    testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
