# TCP interop tests against the Linux kernel's own stack across a tap in a network
# namespace (tests/interop/tcp_*.sh; need root, create and delete their own namespaces,
# addresses from 198.18.0.0/15 only: tcp_bulk 198.18.20.0/24, tcp_faults 198.18.21.0/24,
# tcp_many 198.18.22.0/24, tcp_http 198.18.23.0/24, tcp_halfclose 198.18.24.0/24, tcp_churn
# 198.18.29.0/24, so they
# run in parallel). Each script
# takes the build directory and runs under timeout(1) and a ctest TIMEOUT. Not root: the
# scripts exit 77, which ctest reports as skipped. Label: interop.

# The stack-as-client side of tcp_bulk.sh / tcp_faults.sh (runs inside the namespace;
# libsodium's SHA-256, so not in a cross build).
if(TARGET PkgConfig::SODIUM)
  add_executable(quasi_tcp_client ${PROJECT_SOURCE_DIR}/tests/interop/quasi_tcp_client.cpp)
  target_link_libraries(quasi_tcp_client PRIVATE quasi quasi_ports_x86 quasi_app_cli PkgConfig::SODIUM)
  target_compile_options(quasi_tcp_client PRIVATE -fno-rtti)  # exceptions: CLI11 reports errors by throwing
  set_target_properties(quasi_tcp_client PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/interop)
endif()

# name        seconds (hard limit for the whole script); typical run times in the comments
set(QUASI_INTEROP_TCP_TESTS
  tcp_bulk 150       # ~5 s: 64 MiB each way, quasi as server and as client
  tcp_faults 290     # ~100 s: 7 fault profiles x 2 transfers of 8 MiB (240 s budget inside)
  tcp_many 120       # ~3 s: 1000 concurrent connections
  tcp_http 120       # ~15 s: curl 32 MiB, wrk 10 s
  tcp_halfclose 90   # ~2 s: half-close with the reply unread
  tcp_churn 240      # ~60 s: ab 100,000 non-keep-alive requests; quasi client 20,000 short connections
)
list(LENGTH QUASI_INTEROP_TCP_TESTS _n)
math(EXPR _last "${_n} - 1")
foreach(_i RANGE 0 ${_last} 2)
  math(EXPR _j "${_i} + 1")
  list(GET QUASI_INTEROP_TCP_TESTS ${_i} _name)
  list(GET QUASI_INTEROP_TCP_TESTS ${_j} _secs)
  math(EXPR _ctest_secs "${_secs} + 15")
  add_test(NAME interop_${_name}
    COMMAND timeout --kill-after=5 ${_secs} bash ${PROJECT_SOURCE_DIR}/tests/interop/${_name}.sh ${CMAKE_BINARY_DIR})
  set_tests_properties(interop_${_name} PROPERTIES
    LABELS interop
    TIMEOUT ${_ctest_secs}
    SKIP_RETURN_CODE 77)
endforeach()
