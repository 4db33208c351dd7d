// The firmware's heap audit: every allocation after start-up is counted, so a test
// can prove that the data path takes nothing from the heap.
//
// The firmware replaces the global operator new/delete and wraps malloc/free/calloc/
// realloc (-Wl,--wrap): before end_startup() they go to newlib's malloc; after it,
// any malloc call is counted as a data-path allocation (and still served). The one
// exception is the TCP rings: the core still takes each connection's send and
// receive ring with new[] when the connection starts (stack/tcp_buffers.cpp) until
// it gets a ring-memory seam of its own; the board serves those requests from a
// fixed pool of ring-sized blocks carved at start-up, the way lwIP's MEM_USE_POOLS
// serves mem_malloc, and counts them separately. A ring request the pool cannot
// serve is refused (nullptr: the connection gets ENOBUFS), never taken from malloc.
#pragma once

#include <cstddef>
#include <cstdint>

namespace quasi::board {

struct HeapAudit {
    uint64_t startup_allocations = 0;  // malloc calls before end_startup()
    uint64_t startup_bytes = 0;
    uint64_t data_path_allocations = 0;  // malloc calls after it: must stay 0
    uint64_t data_path_bytes = 0;
    uint64_t ring_takes = 0;    // TCP rings served from the fixed pool
    uint64_t ring_refused = 0;  // ring requests the pool had no block for
    size_t rings_in_use = 0;
    size_t rings_high_water = 0;
};

// Carves `count` blocks of `block_size` bytes for the TCP rings (before the Stack).
void reserve_ring_pool(size_t block_size, size_t count);
// From here on malloc calls are data-path allocations.
void end_startup();
const HeapAudit& heap_audit();

}  // namespace quasi::board
