# Unit tests for ports/x86 (MemLink, ImpairedNetif, SteadyClock); included from
# tests/CMakeLists.txt. The tap backend is exercised by the interop tests instead.
add_executable(ports_test ${CMAKE_CURRENT_LIST_DIR}/ports_test.cpp)
target_link_libraries(ports_test PRIVATE quasi_ports_x86 GTest::gtest_main)
# Without RTTI like the library: UBSan's vptr check (QUASI_SANITIZE) would otherwise
# reference typeinfo that the -fno-rtti library never emits for classes whose key
# function lives there (undefined reference to `typeinfo for quasi::ImpairedNetif`).
target_compile_options(ports_test PRIVATE -fno-rtti)
add_test(NAME ports_test COMMAND ports_test)
set_tests_properties(ports_test PROPERTIES LABELS unit)
