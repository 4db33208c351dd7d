# IPv4 reassembly: ordering, duplicates, every bad-inputs.md defence, a randomized property test.
add_executable(reassembly_test ${CMAKE_CURRENT_LIST_DIR}/reassembly_test.cpp)
target_link_libraries(reassembly_test PRIVATE quasi GTest::gtest_main)
add_test(NAME reassembly_test COMMAND reassembly_test)
set_tests_properties(reassembly_test PROPERTIES LABELS unit)
