# DPDK port tests (label dpdk): two stacks over a net_ring pair in one process; EAL
# without hugepages or PCI. Built only when the DPDK port is (ports/x86/dpdk).
if(TARGET quasi_ports_dpdk)
  add_executable(dpdk_ring_test ${PROJECT_SOURCE_DIR}/tests/dpdk/dpdk_ring_test.cpp)
  target_link_libraries(dpdk_ring_test PRIVATE quasi_ports_dpdk GTest::gtest)
  target_compile_options(dpdk_ring_test PRIVATE -fno-rtti)
  add_test(NAME dpdk_ring_test COMMAND dpdk_ring_test)
  set_tests_properties(dpdk_ring_test PROPERTIES LABELS dpdk TIMEOUT 120)
  # The Toeplitz hash of RSS steering against Microsoft's values and DPDK's rte_softrss
  # (DPDK's headers: the test compiles against libdpdk itself).
  pkg_check_modules(QUASI_TEST_DPDK IMPORTED_TARGET libdpdk)
  add_executable(dpdk_toeplitz_test ${PROJECT_SOURCE_DIR}/tests/dpdk/dpdk_toeplitz_test.cpp)
  target_link_libraries(dpdk_toeplitz_test PRIVATE quasi_ports_dpdk PkgConfig::QUASI_TEST_DPDK GTest::gtest_main)
  add_test(NAME dpdk_toeplitz_test COMMAND dpdk_toeplitz_test)
  set_tests_properties(dpdk_toeplitz_test PROPERTIES LABELS "dpdk;unit" TIMEOUT 60)
  # Two stacks on two threads, flows steered between them (ports/x86/dpdk/flow_steer.hpp).
  add_executable(dpdk_cores_test ${PROJECT_SOURCE_DIR}/tests/dpdk/dpdk_cores_test.cpp)
  target_link_libraries(dpdk_cores_test PRIVATE quasi_ports_dpdk GTest::gtest Threads::Threads)
  target_compile_options(dpdk_cores_test PRIVATE -fno-rtti)
  add_test(NAME dpdk_cores_test COMMAND dpdk_cores_test)
  set_tests_properties(dpdk_cores_test PROPERTIES LABELS dpdk TIMEOUT 120)
  if(TARGET quasi_jit)  # specialized handles whose frames go out through the DPDK port
    add_executable(dpdk_spec_test ${PROJECT_SOURCE_DIR}/tests/dpdk/dpdk_spec_test.cpp)
    target_link_libraries(dpdk_spec_test PRIVATE quasi_ports_dpdk quasi_jit GTest::gtest)
    target_compile_options(dpdk_spec_test PRIVATE -fno-rtti)
    add_test(NAME dpdk_spec_test COMMAND dpdk_spec_test)
    set_tests_properties(dpdk_spec_test PROPERTIES LABELS "dpdk;jit" TIMEOUT 300)
  endif()
endif()

# The kernel interop scripts with quasi on DPDK: QUASI_INTEROP_LINK=dpdk makes them put
# quasi-echo/quasi-httpd on net_af_packet over a veth into the kernel's namespace
# (tests/interop/interop_common.sh, qi_link). Root (else skipped, 77). quasi's lcore 1
# busy-polls, so the script and the kernel peer are pinned to core 0, and the tests run
# one at a time (RUN_SERIAL): two busy-polling quasis would share core 1. The dpdk2_
# runs put quasi on both cores (-l 0-1: lcore 0 shares core 0 with the kernel peer).
if(TARGET quasi_ports_dpdk)
  # name        seconds (hard limit); typical run times in the comments
  set(QUASI_DPDK_INTEROP_TESTS
    icmp_ping 60    # ~8 s: 20 pings (fragmented pings left out, see qi_fragments_reach_quasi)
    udp_echo 120    # ~10 s: 1000 datagrams of 1..1472 B echoed
    tcp_bulk 150    # ~11 s: 64 MiB each way at once through quasi-echo, SHA-256
    tcp_many 120    # ~15 s: 1000 concurrent connections
    tcp_http 120    # ~26 s: curl 32 MiB, wrk 10 s against quasi-httpd
  )
  # The dpdk2_ runs prove what a second core adds (steering, both cores carrying
  # connections) at smaller sizes; the 64 MiB each way and the 32 MiB body stay on one core.
  set(QUASI_DPDK2_ENV_tcp_bulk "QUASI_TCP_BULK_BYTES=16777216")
  set(QUASI_DPDK2_ENV_tcp_http "QUASI_TCP_HTTP_BYTES=4194304;QUASI_TCP_HTTP_WRK_SECONDS=3")
  list(LENGTH QUASI_DPDK_INTEROP_TESTS _n)
  math(EXPR _last "${_n} - 1")
  foreach(_i RANGE 0 ${_last} 2)
    math(EXPR _j "${_i} + 1")
    list(GET QUASI_DPDK_INTEROP_TESTS ${_i} _name)
    list(GET QUASI_DPDK_INTEROP_TESTS ${_j} _secs)
    math(EXPR _ctest_secs "${_secs} + 15")
    # dpdk_NAME: one lcore (1); dpdk2_NAME: two (0-1), a Stack on each, flows steered
    # between them, the af_packet vdev with two queue pairs (a kernel fanout group).
    foreach(_lcores 1 0-1)
      set(_test dpdk_${_name})
      set(_env "QUASI_INTEROP_LINK=dpdk;QUASI_DPDK_LCORES=${_lcores}")
      if(_lcores STREQUAL "0-1")
        set(_test dpdk2_${_name})
        list(APPEND _env ${QUASI_DPDK2_ENV_${_name}})
      endif()
      add_test(NAME ${_test}
        COMMAND taskset -c 0 timeout --kill-after=5 ${_secs} bash ${PROJECT_SOURCE_DIR}/tests/interop/${_name}.sh ${CMAKE_BINARY_DIR})
      set_tests_properties(${_test} PROPERTIES
        LABELS "dpdk;interop"
        ENVIRONMENT "${_env}"
        RUN_SERIAL TRUE
        TIMEOUT ${_ctest_secs}
        SKIP_RETURN_CODE 77)
    endforeach()
  endforeach()
endif()

# quasi-echo --dpdk's start-up errors (no hugepages, no port, a vdev that does not
# probe) and its clean shutdown (mbufs home, run directory removed), on net_ring: ~5 s.
if(TARGET quasi_ports_dpdk)
  add_test(NAME dpdk_eal_start_stop
    COMMAND taskset -c 0 bash ${PROJECT_SOURCE_DIR}/tests/dpdk/dpdk_eal_start_stop.sh ${CMAKE_BINARY_DIR})
  set_tests_properties(dpdk_eal_start_stop PROPERTIES LABELS dpdk RUN_SERIAL TRUE TIMEOUT 120)
endif()

# quasi-perf --link af_packet (tests/interop/perf_tap.sh with QUASI_PERF_LINK): every test,
# generic and specialized, quasi on net_af_packet over a veth against the kernel's
# sockets, both ends' counts checked, every mbuf home; root (else skipped); ~15 s.
if(TARGET quasi_ports_dpdk AND TARGET quasi-perf)
  add_test(NAME dpdk_perf_af_packet
    COMMAND timeout --kill-after=5 240 bash ${PROJECT_SOURCE_DIR}/tests/interop/perf_tap.sh ${CMAKE_BINARY_DIR})
  set_tests_properties(dpdk_perf_af_packet PROPERTIES LABELS "dpdk;interop" ENVIRONMENT QUASI_PERF_LINK=af_packet
                       RUN_SERIAL TRUE TIMEOUT 250 SKIP_RETURN_CODE 77)
endif()

# Transmit checksum offload on DPDK's net_tap (it offers TCP/UDP checksum offload), the
# kernel as peer in the namespace where net_tap makes its tap (~15 s).
if(TARGET quasi_ports_dpdk)
  add_test(NAME dpdk_tap_offload
    COMMAND taskset -c 0 timeout --kill-after=5 120 bash ${PROJECT_SOURCE_DIR}/tests/interop/dpdk_tap_offload.sh ${CMAKE_BINARY_DIR})
  set_tests_properties(dpdk_tap_offload PROPERTIES
    LABELS "dpdk;interop"
    RUN_SERIAL TRUE
    TIMEOUT 135
    SKIP_RETURN_CODE 77)
endif()
