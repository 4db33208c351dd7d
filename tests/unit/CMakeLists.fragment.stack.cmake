# Whole-stack tests: two stacks on the in-memory link.
foreach(t udp_test tcp_test tcp_netsim_test)
  add_executable(${t} ${CMAKE_CURRENT_LIST_DIR}/${t}.cpp)
  target_link_libraries(${t} PRIVATE quasi quasi_ports_x86 GTest::gtest_main)
  add_test(NAME ${t} COMMAND ${t})
  set_tests_properties(${t} PROPERTIES LABELS unit)
endforeach()
