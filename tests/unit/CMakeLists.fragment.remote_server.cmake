# The remote specialization server (sources in tests/remote/, label `remote`): its
# compile and link for a device's target and addresses.
if(TARGET quasi_remote_server)
  add_executable(remote_link_test ${PROJECT_SOURCE_DIR}/tests/remote/remote_link_test.cpp)
  target_link_libraries(remote_link_test PRIVATE quasi_remote_server quasi_jit quasi_ports_x86 GTest::gtest_main)
  target_compile_options(remote_link_test PRIVATE -fno-rtti)
  add_test(NAME remote_link_test COMMAND remote_link_test)
  set_tests_properties(remote_link_test PROPERTIES LABELS remote TIMEOUT 600)
  # The resident compile state: a used compiler's code is a fresh one's; concurrent
  # requests on several compile threads get a lone compiler's images.
  add_executable(remote_resident_test ${PROJECT_SOURCE_DIR}/tests/remote/remote_resident_test.cpp)
  target_link_libraries(remote_resident_test PRIVATE quasi_remote_server quasi_jit quasi_ports_x86 GTest::gtest_main)
  target_compile_options(remote_resident_test PRIVATE -fno-rtti)
  add_test(NAME remote_resident_test COMMAND remote_resident_test)
  set_tests_properties(remote_resident_test PROPERTIES LABELS remote TIMEOUT 600)
endif()

# quasi-specd over loopback, driven by a protocol client in the test (this process
# is the device and runs the code it gets). A cross build without the JIT (AArch64
# under qemu-user) runs it against the host build's daemon: QUASI_SPECD_HOST names
# it (scripts/test.sh's aarch64 phase); qemu-user hands the exec to the host kernel.
set(QUASI_SPECD_HOST "" CACHE FILEPATH "quasi-specd of a host build, for specd_test in a cross build")
if(TARGET quasi-specd OR QUASI_SPECD_HOST)
  add_executable(specd_test ${PROJECT_SOURCE_DIR}/tests/remote/specd_test.cpp)
  target_link_libraries(specd_test PRIVATE quasi_remote_device quasi_specd_proto quasi_ports_x86 GTest::gtest_main)
  if(TARGET quasi-specd)
    target_compile_definitions(specd_test PRIVATE QUASI_SPECD_PATH="$<TARGET_FILE:quasi-specd>")
    add_dependencies(specd_test quasi-specd)
  else()
    target_compile_definitions(specd_test PRIVATE QUASI_SPECD_PATH="${QUASI_SPECD_HOST}")
  endif()
  add_test(NAME specd_test COMMAND specd_test)
  set_tests_properties(specd_test PROPERTIES LABELS remote TIMEOUT 600)
endif()
