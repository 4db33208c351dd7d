# ARP neighbour cache: state machine, RFC 826 / 1122 / 5227 behaviour, bad inputs.
add_executable(arp_test ${CMAKE_CURRENT_LIST_DIR}/arp_test.cpp)
target_link_libraries(arp_test PRIVATE quasi GTest::gtest_main)
add_test(NAME arp_test COMMAND arp_test)
set_tests_properties(arp_test PROPERTIES LABELS unit)
