# wire_test: byte-array build/parse tests and RFC vectors for every header in stack/wire/.
# core_test: routing table, timer wheel, buffers, quasi-invariants, Random, SipHash.
# bad_input_test: every link/ARP/IPv4/ICMP/UDP line of bad-inputs.md against a whole
# Stack, driven through a MemLink by the frame builder in wire_harness.hpp.
# stack_test: a whole Stack seen from the wire: the gratuitous ARP at add_interface,
# IP IDs keyed by the seed (RFC 7739).
foreach(t wire_test core_test bad_input_test stack_test)
  add_executable(${t} ${CMAKE_CURRENT_LIST_DIR}/${t}.cpp)
  target_link_libraries(${t} PRIVATE quasi quasi_ports_x86 GTest::gtest_main)
  add_test(NAME ${t} COMMAND ${t})
  set_tests_properties(${t} PROPERTIES LABELS unit)
endforeach()
