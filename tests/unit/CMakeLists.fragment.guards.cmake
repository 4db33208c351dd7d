# The guards' tests (sources in tests/guards/, label `guards`): streams through
# specialized handles while routes, neighbours, MTUs and the MSS change under them,
# under reinforce and under fallback_and_respecialize.
if(TARGET quasi_jit)
  add_executable(guards_stream_test ${PROJECT_SOURCE_DIR}/tests/guards/guards_stream_test.cpp)
  target_link_libraries(guards_stream_test PRIVATE quasi_jit quasi_ports_x86 GTest::gtest_main)
  target_compile_options(guards_stream_test PRIVATE -fno-rtti)
  add_test(NAME guards_stream_test COMMAND guards_stream_test)
  set_tests_properties(guards_stream_test PROPERTIES LABELS guards TIMEOUT 900)
endif()
