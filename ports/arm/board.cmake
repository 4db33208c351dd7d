# The bare-metal board build, included by the top-level CMakeLists.txt when QUASI_BOARD
# is set. Builds library `quasi` (stack/, context/, guards/) and ports/arm/<board>/ with the
# board's CPU flags, for size, without exceptions or RTTI, each function and object in
# its own section so --gc-sections drops what the firmware does not reach.
if(NOT CMAKE_CROSSCOMPILING)
  message(FATAL_ERROR "QUASI_BOARD=${QUASI_BOARD} needs the cross toolchain: -DCMAKE_TOOLCHAIN_FILE=${PROJECT_SOURCE_DIR}/ports/arm/toolchain-arm-none-eabi.cmake (or scripts/board.sh build)")
endif()
set(QUASI_BOARD_DIR ${PROJECT_SOURCE_DIR}/ports/arm/${QUASI_BOARD})
if(NOT EXISTS ${QUASI_BOARD_DIR}/board.cmake)
  message(FATAL_ERROR "unknown board '${QUASI_BOARD}': no ${QUASI_BOARD_DIR}/board.cmake")
endif()
include(${QUASI_BOARD_DIR}/board.cmake)

add_compile_options(${QUASI_BOARD_CPU_FLAGS} ${QUASI_CORE_FLAGS} -ffunction-sections -fdata-sections)
add_link_options(${QUASI_BOARD_CPU_FLAGS} -Wl,--gc-sections)

include(${PROJECT_SOURCE_DIR}/ports/arm/boost_only.cmake)

add_subdirectory(stack)
add_subdirectory(context)
add_subdirectory(guards)
add_subdirectory(jit/remote)  # the remote protocol and device client: no LLVM
add_subdirectory(${QUASI_BOARD_DIR})
