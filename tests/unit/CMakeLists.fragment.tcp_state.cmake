# TCP state machine and bad inputs, driven by crafted segments against one Stack on a
# MemLink (tcp_segment_harness.hpp): every RFC 9293 transition, the timers, the RFC 5961
# matrix and each TCP line of shared/notes/bad-inputs.md; SO_LINGER (tcp_linger_test).
foreach(t tcp_state_test tcp_bad_input_test tcp_linger_test)
  add_executable(${t} ${CMAKE_CURRENT_LIST_DIR}/${t}.cpp)
  target_link_libraries(${t} PRIVATE quasi quasi_ports_x86 GTest::gtest_main)
  # Without RTTI like the library (see CMakeLists.fragment.ports.cmake: UBSan's vptr check).
  target_compile_options(${t} PRIVATE -fno-rtti)
  add_test(NAME ${t} COMMAND ${t})
  set_tests_properties(${t} PROPERTIES LABELS unit)
endforeach()
