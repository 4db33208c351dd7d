# Remote specialization (jit/remote/, label `remote`): the protocol's codec and MAC.
set(QUASI_REMOTE_TESTS ${PROJECT_SOURCE_DIR}/tests/remote)
add_executable(remote_proto_test ${QUASI_REMOTE_TESTS}/remote_proto_test.cpp)
target_link_libraries(remote_proto_test PRIVATE quasi_specd_proto GTest::gtest_main)
add_test(NAME remote_proto_test COMMAND remote_proto_test)
set_tests_properties(remote_proto_test PROPERTIES LABELS "remote;unit")
if(QUASI_PROTO_MAC STREQUAL "libsodium")  # the builtin MAC checked against libsodium
  add_executable(remote_mac_test ${QUASI_REMOTE_TESTS}/remote_mac_test.cpp)
  target_link_libraries(remote_mac_test PRIVATE quasi_specd_proto PkgConfig::QUASI_SODIUM GTest::gtest_main)
  add_test(NAME remote_mac_test COMMAND remote_mac_test)
  set_tests_properties(remote_mac_test PROPERTIES LABELS "remote;unit")
endif()

# The device side against an in-test server over the stack's own TCP (an in-memory
# link); the honest server's code is x86-64 machine code, so host x86-64 only.
if(NOT CMAKE_CROSSCOMPILING AND CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  add_executable(remote_device_test ${QUASI_REMOTE_TESTS}/remote_device_test.cpp
                                    ${QUASI_REMOTE_TESTS}/remote_device_test_tcp.cpp)
  target_link_libraries(remote_device_test PRIVATE quasi_remote_device quasi_ports_x86 GTest::gtest_main)
  add_test(NAME remote_device_test COMMAND remote_device_test)
  set_tests_properties(remote_device_test PROPERTIES LABELS "remote;unit")
endif()

# End to end (labels remote, board): the Cortex-M3 board in QEMU gets its UDP send path
# from quasi-specd over a tap (tests/board/board_remote.sh; root, else skipped with 77).
if(TARGET quasi-specd)
  add_test(NAME board_remote
    COMMAND timeout --kill-after=5 300 bash ${PROJECT_SOURCE_DIR}/tests/board/board_remote.sh
            ${CMAKE_BINARY_DIR} ${CMAKE_BINARY_DIR}-board)
  set_tests_properties(board_remote PROPERTIES LABELS "remote;board" TIMEOUT 320 SKIP_RETURN_CODE 77)
endif()
