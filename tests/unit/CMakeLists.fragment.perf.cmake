# quasi-perf: its statistics, a counted run of every test on the in-memory link (and lwIP's)
# (sender's count == receiver's), and its command line (--help, a bad option, --json).
if(TARGET quasi_perf_lib)
  add_executable(perf_test ${CMAKE_CURRENT_LIST_DIR}/perf_test.cpp)
  target_link_libraries(perf_test PRIVATE quasi_perf_lib quasi_perf_lwip GTest::gtest_main)
  add_test(NAME perf_test COMMAND perf_test)
  add_test(NAME perf_cli_help COMMAND quasi-perf --help)
  add_test(NAME perf_cli_bad_test COMMAND quasi-perf --test NO_SUCH_TEST)
  add_test(NAME perf_cli_json COMMAND quasi-perf --test UDP_STREAM,TCP_RR --sizes 64 --count 2000 --warmup 0 --json)
  set_tests_properties(perf_cli_bad_test PROPERTIES WILL_FAIL TRUE)
  # --plot: gnuplot draws a PNG (its signature checked).
  add_test(NAME perf_cli_plot
    COMMAND sh -c "out=\"$1/perf_cli_plot.png\"; rm -f \"$out\"; \"$0\" --test UDP_STREAM --sizes 64,1472 --mode generic --count 2000 --warmup 0 --plot \"$out\" >/dev/null && head -c 4 \"$out\" | od -c | grep -q 'P   N   G' && echo plotted"
            $<TARGET_FILE:quasi-perf> ${CMAKE_CURRENT_BINARY_DIR})
  set_tests_properties(perf_cli_plot PROPERTIES PASS_REGULAR_EXPRESSION "plotted")
  # (A pass expression makes ctest ignore the exit status: a failed run shows as "errors".)
  set_tests_properties(perf_cli_json PROPERTIES PASS_REGULAR_EXPRESSION "\"specialized/generic_tps\""
                       FAIL_REGULAR_EXPRESSION "\"errors\"")
  # The kernel baseline (root: namespaces and a veth pair; not root: skipped), every
  # test for a few thousand messages; quasi-perf fails a run whose sender and receiver
  # counts disagree (TCP on every path).
  add_test(NAME perf_kernel_baseline
    COMMAND sh -c "[ \"$(id -u)\" = 0 ] || exit 77; exec timeout --kill-after=5 100 \"$0\" \"$@\""
            $<TARGET_FILE:quasi-perf> --test UDP_STREAM,TCP_STREAM,TCP_MAERTS,UDP_RR,TCP_RR,TCP_CRR --sizes 100
            --mode generic --baseline kernel --count 3000 --warmup 0 --json)
  set_tests_properties(perf_kernel_baseline PROPERTIES LABELS interop TIMEOUT 120 SKIP_RETURN_CODE 77
                       PASS_REGULAR_EXPRESSION "\"kernel-capped\""
                       FAIL_REGULAR_EXPRESSION "\"errors\"")
  # --link tap (tests/interop/perf_tap.sh): every test, generic and specialized, quasi on a
  # tap against the kernel's sockets in the namespace quasi-perf creates; both ends' counts
  # checked, then that the namespace and the tap are gone, also after SIGINT. Root (else
  # skipped, 77); ~30 s.
  add_test(NAME interop_perf_tap
    COMMAND timeout --kill-after=5 240 bash ${PROJECT_SOURCE_DIR}/tests/interop/perf_tap.sh ${CMAKE_BINARY_DIR})
  set_tests_properties(interop_perf_tap PROPERTIES LABELS interop TIMEOUT 250 SKIP_RETURN_CODE 77)
  set_tests_properties(perf_test perf_cli_help perf_cli_bad_test perf_cli_json perf_cli_plot PROPERTIES LABELS unit TIMEOUT 120)
endif()
