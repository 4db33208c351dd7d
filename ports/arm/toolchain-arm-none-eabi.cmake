# CMake toolchain file for bare-metal ARM (Debian's gcc-arm-none-eabi with newlib-nano).
# Used by the board configuration: cmake -DQUASI_BOARD=mps2-an385
#   -DCMAKE_TOOLCHAIN_FILE=ports/arm/toolchain-arm-none-eabi.cmake (scripts/board.sh build).
# The CPU flags come from the board (ports/arm/<board>/board.cmake); this file only
# names the compilers and keeps CMake from linking host-style test programs.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)

set(CMAKE_C_COMPILER arm-none-eabi-gcc)
set(CMAKE_CXX_COMPILER arm-none-eabi-g++)
set(CMAKE_ASM_COMPILER arm-none-eabi-gcc)
set(CMAKE_OBJCOPY arm-none-eabi-objcopy)
set(CMAKE_SIZE arm-none-eabi-size)

# try_compile builds a static library: no startup code or linker script is needed.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
