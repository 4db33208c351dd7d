# The programs' command lines (CLI11, apps/cli_options.hpp): --help prints the usage and
# exits 0; a bad value exits 2 naming the option. quasi-perf has its own (perf fragment).
# Not in a cross build: its unit phase builds one target per test name.
foreach(_prog quasi-churn quasi-spec-client quasi_tcp_client quasi_udp_client)
  if(TARGET ${_prog} AND NOT CMAKE_CROSSCOMPILING)
    add_test(NAME cli_help_${_prog} COMMAND ${_prog} --help)
    set_tests_properties(cli_help_${_prog} PROPERTIES PASS_REGULAR_EXPRESSION "Usage: ${_prog} \\[OPTIONS\\]")
    # --seconds 0 is out of range for every one of them.
    add_test(NAME cli_bad_value_${_prog}
      COMMAND sh -c "\"$0\" --seconds 0 2>&1; test $? = 2 && echo exit-2" $<TARGET_FILE:${_prog}>)
    set_tests_properties(cli_bad_value_${_prog} PROPERTIES PASS_REGULAR_EXPRESSION "--seconds: '0' is not a number.*exit-2")
    set_tests_properties(cli_help_${_prog} cli_bad_value_${_prog} PROPERTIES LABELS unit TIMEOUT 30)
  endif()
endforeach()
