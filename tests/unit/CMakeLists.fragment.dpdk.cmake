# DPDK port tests (label dpdk): two stacks over a net_ring pair in one process; EAL
# without hugepages or PCI. Built only when the DPDK port is (ports/x86/dpdk).
if(TARGET quasi_ports_dpdk)
  add_executable(dpdk_ring_test ${PROJECT_SOURCE_DIR}/tests/dpdk/dpdk_ring_test.cpp)
  target_link_libraries(dpdk_ring_test PRIVATE quasi_ports_dpdk GTest::gtest)
  target_compile_options(dpdk_ring_test PRIVATE -fno-rtti)
  add_test(NAME dpdk_ring_test COMMAND dpdk_ring_test)
  set_tests_properties(dpdk_ring_test PROPERTIES LABELS dpdk TIMEOUT 300)
endif()
