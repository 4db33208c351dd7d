# The guards' tests (sources in tests/guards/, label `guards`): streams through
# specialized handles while routes, neighbours, MTUs and the MSS change under them,
# under reinforce and under fallback_and_respecialize; verify and deopt stress modes;
# the compile-time guard of QuasiInvariant.
if(TARGET quasi_jit)
  foreach(t guards_stream_test guards_modes_test guards_threads_test guards_recut_test guards_nat_test)
    add_executable(${t} ${PROJECT_SOURCE_DIR}/tests/guards/${t}.cpp)
    target_link_libraries(${t} PRIVATE quasi_jit quasi_ports_x86 GTest::gtest_main)
    target_compile_options(${t} PRIVATE -fno-rtti)
    add_test(NAME ${t} COMMAND ${t})
    set_tests_properties(${t} PROPERTIES LABELS guards TIMEOUT 900)
  endforeach()
  # Deopt stress over the existing differential and stream tests: guards fire at
  # random one send in 5, and the frames (differential) and bytes (stream) stay exact.
  foreach(t spec_differential_test spec_tcp_differential_test guards_stream_test)
    add_test(NAME ${t}_deopt_stress COMMAND ${t})
    set_tests_properties(${t}_deopt_stress PROPERTIES LABELS guards TIMEOUT 900
                         ENVIRONMENT "QUASI_GUARDS_STRESS=5;QUASI_GUARDS_SEED=11;QUASI_GUARDS_MIB=16")
  endforeach()
endif()

# QuasiInvariant has no assignment: the same file compiles, and fails to with one.
set(quasi_assign_cmd ${CMAKE_CXX_COMPILER} -std=c++20 -fsyntax-only -I${PROJECT_SOURCE_DIR}
    ${PROJECT_SOURCE_DIR}/tests/guards/quasi_invariant_assign.cpp)
add_test(NAME guards_quasi_invariant_compiles COMMAND ${quasi_assign_cmd})
add_test(NAME guards_quasi_invariant_rejects_assignment COMMAND ${quasi_assign_cmd} -DQUASI_ASSIGN)
set_tests_properties(guards_quasi_invariant_compiles guards_quasi_invariant_rejects_assignment PROPERTIES LABELS guards)
set_tests_properties(guards_quasi_invariant_rejects_assignment PROPERTIES WILL_FAIL TRUE)
