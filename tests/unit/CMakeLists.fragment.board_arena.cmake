# The board's TCP arena (ports/arm/echo/buddy_arena.hpp), generic code tested on the host.
add_executable(buddy_arena_test ${CMAKE_CURRENT_LIST_DIR}/buddy_arena_test.cpp
                                ${PROJECT_SOURCE_DIR}/ports/arm/echo/buddy_arena.cpp)
target_link_libraries(buddy_arena_test PRIVATE quasi GTest::gtest_main)
add_test(NAME buddy_arena_test COMMAND buddy_arena_test)
set_tests_properties(buddy_arena_test PROPERTIES LABELS unit)
