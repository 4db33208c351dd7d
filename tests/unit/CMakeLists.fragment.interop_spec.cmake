# Specialized send handles over a tap against the Linux kernel (tests/interop/spec_tap.sh):
# quasi-spec-client (apps/) sends 20,000 UDP datagrams and 32 MiB of TCP through handles from
# jit/specialize.hpp to tests/interop/spec_peer.py in namespace quasi-spectap-<pid>,
# addresses 198.18.30.0/24. Needs root (exit 77 otherwise: skipped). Label: interop.
if(TARGET quasi-spec-client)  # apps/quasi_spec_client.cpp
  # ~3 s: UDP paced (20,000 datagrams in ~0.2 s), 32 MiB of TCP, JIT compiles included.
  add_test(NAME interop_spec_tap
    COMMAND timeout --kill-after=5 120 bash ${PROJECT_SOURCE_DIR}/tests/interop/spec_tap.sh ${CMAKE_BINARY_DIR})
  set_tests_properties(interop_spec_tap PROPERTIES
    LABELS interop
    TIMEOUT 135
    SKIP_RETURN_CODE 77)
endif()
