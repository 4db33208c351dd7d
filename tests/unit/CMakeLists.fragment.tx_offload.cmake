# Transmit checksum offload in the stack (Offloads::tx_checksum, kMetaTxChecksumPartial),
# against a device on the in-memory link that completes marked checksums.
add_executable(tx_checksum_offload_test ${CMAKE_CURRENT_LIST_DIR}/tx_checksum_offload_test.cpp)
target_link_libraries(tx_checksum_offload_test PRIVATE quasi quasi_ports_x86 GTest::gtest_main)
add_test(NAME tx_checksum_offload_test COMMAND tx_checksum_offload_test)
set_tests_properties(tx_checksum_offload_test PROPERTIES LABELS unit)
