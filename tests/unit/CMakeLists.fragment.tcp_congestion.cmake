# TCP congestion control (NewReno, CUBIC), the RFC 6298 RTO estimator, ISNs and SYN cookies.
add_executable(tcp_congestion_test ${CMAKE_CURRENT_LIST_DIR}/tcp_congestion_test.cpp)
target_link_libraries(tcp_congestion_test PRIVATE quasi GTest::gtest_main)
add_test(NAME tcp_congestion_test COMMAND tcp_congestion_test)
set_tests_properties(tcp_congestion_test PROPERTIES LABELS unit)
