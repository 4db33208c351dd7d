# The sockets' route cache (DstEntry): every input it depends on invalidates it.
add_executable(route_cache_test ${CMAKE_CURRENT_LIST_DIR}/route_cache_test.cpp)
target_link_libraries(route_cache_test PRIVATE quasi quasi_ports_x86 GTest::gtest_main)
add_test(NAME route_cache_test COMMAND route_cache_test)
set_tests_properties(route_cache_test PROPERTIES LABELS unit)
