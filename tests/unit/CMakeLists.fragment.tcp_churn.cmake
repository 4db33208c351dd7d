# TCP at server scale on the in-memory link: 100,000 concurrent connections opened,
# answered and closed with the memory back at its baseline (glibc's mallinfo2), and
# churn through TIME-WAIT records beside a small socket table. About 10-20 s.
add_executable(tcp_scale_test ${CMAKE_CURRENT_LIST_DIR}/tcp_scale_test.cpp)
target_link_libraries(tcp_scale_test PRIVATE quasi quasi_ports_x86 GTest::gtest_main)
add_test(NAME tcp_scale_test COMMAND tcp_scale_test)
set_tests_properties(tcp_scale_test PROPERTIES LABELS unit TIMEOUT 300)

# TIME-WAIT records driven by crafted segments (tcp_segment_harness.hpp).
add_executable(tcp_time_wait_test ${CMAKE_CURRENT_LIST_DIR}/tcp_time_wait_test.cpp)
target_link_libraries(tcp_time_wait_test PRIVATE quasi quasi_ports_x86 GTest::gtest_main)
target_compile_options(tcp_time_wait_test PRIVATE -fno-rtti)
add_test(NAME tcp_time_wait_test COMMAND tcp_time_wait_test)
set_tests_properties(tcp_time_wait_test PROPERTIES LABELS unit)

# Recycled sockets (TcpLayer::recycle_socket) compared field by field with fresh ones.
add_executable(tcp_recycle_test ${CMAKE_CURRENT_LIST_DIR}/tcp_recycle_test.cpp)
target_link_libraries(tcp_recycle_test PRIVATE quasi quasi_ports_x86 GTest::gtest_main)
add_test(NAME tcp_recycle_test COMMAND tcp_recycle_test)
set_tests_properties(tcp_recycle_test PROPERTIES LABELS unit)
