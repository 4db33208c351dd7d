# The remote specialization server (sources in tests/remote/, label `remote`): its
# compile and link for a device's target and addresses.
if(TARGET quasi_remote_server)
  add_executable(remote_link_test ${PROJECT_SOURCE_DIR}/tests/remote/remote_link_test.cpp)
  target_link_libraries(remote_link_test PRIVATE quasi_remote_server quasi_jit quasi_ports_x86 GTest::gtest_main)
  target_compile_options(remote_link_test PRIVATE -fno-rtti)
  add_test(NAME remote_link_test COMMAND remote_link_test)
  set_tests_properties(remote_link_test PROPERTIES LABELS remote TIMEOUT 600)
endif()
