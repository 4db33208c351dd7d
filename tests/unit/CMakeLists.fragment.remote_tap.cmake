# A Linux device (quasi-remote-client: the real RemoteClient on a quasi stack over a
# tap in a namespace) against quasi-specd running natively in that namespace
# (tests/remote/remote_tap.sh; labels remote and interop; root, else skipped with 77).
# A cross build runs the device under its emulator (AArch64: qemu-aarch64) against
# the host build's daemon (QUASI_SPECD_HOST, as specd_test). The target of the test's
# name builds what it runs, so scripts/test.sh's aarch64 phase, which builds a target
# per test of the remote label, finds it.
if(TARGET quasi-remote-client AND (TARGET quasi-specd OR QUASI_SPECD_HOST))
  if(TARGET quasi-specd)
    set(_specd $<TARGET_FILE:quasi-specd>)
  else()
    set(_specd ${QUASI_SPECD_HOST})
  endif()
  add_custom_target(remote_tap)
  add_dependencies(remote_tap quasi-remote-client quasi-echo)
  if(TARGET quasi-specd)
    add_dependencies(remote_tap quasi-specd)
  endif()
  add_test(NAME remote_tap
    COMMAND timeout --kill-after=5 240 bash ${PROJECT_SOURCE_DIR}/tests/remote/remote_tap.sh ${CMAKE_BINARY_DIR} ${_specd})
  set_tests_properties(remote_tap PROPERTIES LABELS "remote;interop" TIMEOUT 260 SKIP_RETURN_CODE 77)
  if(CMAKE_CROSSCOMPILING_EMULATOR)
    set_tests_properties(remote_tap PROPERTIES ENVIRONMENT "QUASI_EMULATOR=${CMAKE_CROSSCOMPILING_EMULATOR}")
  endif()
endif()
