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
