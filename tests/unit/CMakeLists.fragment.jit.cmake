# The specializer's tests (sources in tests/jit/, label `jit`): differential tests
# (generic path vs specialized handle, byte for byte), guards, the code cache; the
# same for TCP (spec_tcp_*).
if(TARGET quasi_jit)
  foreach(t spec_test spec_differential_test spec_cache_test spec_tcp_test spec_tcp_differential_test)
    add_executable(${t} ${PROJECT_SOURCE_DIR}/tests/jit/${t}.cpp)
    target_link_libraries(${t} PRIVATE quasi_jit quasi_ports_x86 GTest::gtest_main)
    target_compile_options(${t} PRIVATE -fno-rtti)
    add_test(NAME ${t} COMMAND ${t})
    set_tests_properties(${t} PROPERTIES LABELS jit TIMEOUT 600)
  endforeach()
endif()
