# quasi-perf: its statistics, a counted run of every test on the in-memory link
# (sender's count == receiver's), and its command line (--help, a bad option, --json).
if(TARGET quasi_perf_lib)
  add_executable(perf_test ${CMAKE_CURRENT_LIST_DIR}/perf_test.cpp)
  target_link_libraries(perf_test PRIVATE quasi_perf_lib GTest::gtest_main)
  add_test(NAME perf_test COMMAND perf_test)
  add_test(NAME perf_cli_help COMMAND quasi-perf --help)
  add_test(NAME perf_cli_bad_test COMMAND quasi-perf --test NO_SUCH_TEST)
  add_test(NAME perf_cli_json COMMAND quasi-perf --test UDP_STREAM,TCP_RR --sizes 64 --count 2000 --warmup 0 --json)
  set_tests_properties(perf_cli_bad_test PROPERTIES WILL_FAIL TRUE)
  set_tests_properties(perf_cli_json PROPERTIES PASS_REGULAR_EXPRESSION "\"specialized/generic_tps\"")
  set_tests_properties(perf_test perf_cli_help perf_cli_bad_test perf_cli_json PROPERTIES LABELS unit TIMEOUT 120)
endif()
