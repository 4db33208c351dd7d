// What the board's _sbrk (syscalls.cpp) has handed out, for the firmware's heap audit.
#pragma once

#include <cstddef>
#include <cstdint>

namespace quasi::board {

struct SbrkStats {
    uint64_t calls = 0;
    size_t top = 0;  // bytes of the heap region in use (the break's offset)
};
const SbrkStats& sbrk_stats();
// Bytes between the end of .bss and the stack's reserve.
size_t heap_region_size();

}  // namespace quasi::board
