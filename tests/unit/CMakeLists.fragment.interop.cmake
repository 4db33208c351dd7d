# Interop tests against the Linux kernel's own stack across a tap in a network namespace
# (tests/interop/*.sh; need root, create and delete their own namespaces, addresses from
# 198.18.0.0/15 only). Each script takes the build directory; each runs under timeout(1)
# and a ctest TIMEOUT. Not root: the scripts exit 77, which ctest reports as skipped.
# Each test uses its own subnet 198.18.X.0/24 and namespace, so they run in parallel.
set(QUASI_INTEROP_DIR ${PROJECT_SOURCE_DIR}/tests/interop)

# The stack-originated UDP client (udp_stack_client.sh runs it inside the namespace).
add_executable(quasi_udp_client ${QUASI_INTEROP_DIR}/quasi_udp_client.cpp)
target_link_libraries(quasi_udp_client PRIVATE quasi quasi_ports_x86 quasi_app_cli)
target_compile_options(quasi_udp_client PRIVATE -fno-rtti)  # exceptions: CLI11 reports errors by throwing
set_target_properties(quasi_udp_client PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/interop)

# name        seconds (hard limit; each takes a few seconds)
set(QUASI_INTEROP_TESTS
  icmp_ping 60
  udp_echo 120
  udp_stack_client 120
  udp_port_unreachable 60
)
list(LENGTH QUASI_INTEROP_TESTS _n)
math(EXPR _last "${_n} - 1")
foreach(_i RANGE 0 ${_last} 2)
  math(EXPR _j "${_i} + 1")
  list(GET QUASI_INTEROP_TESTS ${_i} _name)
  list(GET QUASI_INTEROP_TESTS ${_j} _secs)
  math(EXPR _ctest_secs "${_secs} + 15")
  add_test(NAME interop_${_name}
    COMMAND timeout --kill-after=5 ${_secs} bash ${QUASI_INTEROP_DIR}/${_name}.sh ${CMAKE_BINARY_DIR})
  set_tests_properties(interop_${_name} PROPERTIES
    LABELS interop
    TIMEOUT ${_ctest_secs}
    SKIP_RETURN_CODE 77)
  if(CMAKE_CROSSCOMPILING_EMULATOR)  # AArch64: quasi-echo runs under qemu-aarch64
    set_tests_properties(interop_${_name} PROPERTIES ENVIRONMENT "QUASI_EMULATOR=${CMAKE_CROSSCOMPILING_EMULATOR}")
  endif()
endforeach()
