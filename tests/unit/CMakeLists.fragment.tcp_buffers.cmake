# TCP buffers: ByteRing against a std::deque model, SeqRangeSet merging and bounds,
# SackScoreboard (RFC 6675 IsLost/SetPipe/NextSeg) with hand-computed examples.
add_executable(tcp_buffers_test ${CMAKE_CURRENT_LIST_DIR}/tcp_buffers_test.cpp)
target_link_libraries(tcp_buffers_test PRIVATE quasi GTest::gtest_main)
add_test(NAME tcp_buffers_test COMMAND tcp_buffers_test)
set_tests_properties(tcp_buffers_test PROPERTIES LABELS unit)
