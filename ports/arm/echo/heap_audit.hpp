// The firmware's heap audit: every allocation after start-up is counted, so a test
// can prove that the data path takes nothing from the heap.
//
// The firmware replaces the global operator new/delete and wraps malloc/free/calloc/
// realloc (-Wl,--wrap): before end_startup() they go to newlib's malloc; after it,
// any malloc call is counted as a data-path allocation (and still served). What TCP
// takes as connections come and go (sockets, rings, range sets) comes from the
// firmware's arena through the core's MemorySource seam (buddy_arena.hpp), not from
// here; the arena counts its own refusals.
#pragma once

#include <cstddef>
#include <cstdint>

namespace quasi::board {

struct HeapAudit {
    uint64_t startup_allocations = 0;  // malloc calls before end_startup()
    uint64_t startup_bytes = 0;
    uint64_t data_path_allocations = 0;  // malloc calls after it: must stay 0
    uint64_t data_path_bytes = 0;
};

// From here on malloc calls are data-path allocations.
void end_startup();
const HeapAudit& heap_audit();

}  // namespace quasi::board
