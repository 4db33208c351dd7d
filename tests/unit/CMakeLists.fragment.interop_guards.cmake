# The guards over tap against the Linux kernel (tests/interop/guards_tap.sh): a TCP and
# a UDP stream through a specialized handle over two taps into namespace
# quasi-guardstap-<pid> (198.18.40-42.0/24) while the gateway, an ARP entry, the route's
# interface, the path MTU (a real ICMP frame) and the interface MTU change, under
# reinforce and under fallback_and_respecialize. Needs root (exit 77 otherwise:
# skipped). Labels: guards, interop (so the non-root runs leave it out).
if(TARGET quasi-spec-client)  # quasi_jit and libsodium, as apps/quasi_spec_client.cpp
  add_executable(quasi_guards_client ${PROJECT_SOURCE_DIR}/tests/interop/quasi_guards_client.cpp)
  target_link_libraries(quasi_guards_client PRIVATE quasi quasi_ports_x86 quasi_app_cli quasi_jit PkgConfig::SODIUM)
  target_compile_options(quasi_guards_client PRIVATE -fno-rtti)  # exceptions: CLI11 reports errors by throwing
  set_target_properties(quasi_guards_client PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/interop)
  add_test(NAME interop_guards_tap
    COMMAND timeout --kill-after=5 100 bash ${PROJECT_SOURCE_DIR}/tests/interop/guards_tap.sh ${CMAKE_BINARY_DIR})
  set_tests_properties(interop_guards_tap PROPERTIES
    LABELS "guards;interop"
    TIMEOUT 115
    SKIP_RETURN_CODE 77)
endif()
