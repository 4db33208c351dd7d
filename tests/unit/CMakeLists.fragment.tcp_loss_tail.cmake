# The loss tail: RACK-TLP (RFC 8985) and SACK recovery after an RTO, driven by crafted
# segments against one Stack on a MemLink (tcp_segment_harness.hpp).
add_executable(tcp_loss_tail_test ${CMAKE_CURRENT_LIST_DIR}/tcp_loss_tail_test.cpp)
target_link_libraries(tcp_loss_tail_test PRIVATE quasi quasi_ports_x86 GTest::gtest_main)
target_compile_options(tcp_loss_tail_test PRIVATE -fno-rtti)
add_test(NAME tcp_loss_tail_test COMMAND tcp_loss_tail_test)
set_tests_properties(tcp_loss_tail_test PROPERTIES LABELS unit)
