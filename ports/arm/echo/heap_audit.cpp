#include "ports/arm/echo/heap_audit.hpp"

#include "ports/arm/mps2-an385/board.hpp"

#include <cstdlib>
#include <new>

extern "C" {
void* __real_malloc(size_t size);
void __real_free(void* p);
void* __real_calloc(size_t n, size_t size);
void* __real_realloc(void* p, size_t size);
}

namespace quasi::board {
namespace {

HeapAudit g_audit;
bool g_started = false;

// The ring pool: one block of storage, blocks on a free list threaded through them.
struct RingPool {
    uint8_t* base = nullptr;
    size_t block_size = 0;
    size_t count = 0;
    void* free_list = nullptr;

    bool owns(const void* p) const {
        const uint8_t* b = static_cast<const uint8_t*>(p);
        return base && b >= base && b < base + block_size * count;
    }
};
RingPool g_rings;

void count_malloc(size_t size) {
    if (g_started) {
        ++g_audit.data_path_allocations;
        g_audit.data_path_bytes += size;
    } else {
        ++g_audit.startup_allocations;
        g_audit.startup_bytes += size;
    }
}

void* ring_take() {
    void* block = g_rings.free_list;
    if (!block) {
        ++g_audit.ring_refused;
        return nullptr;
    }
    g_rings.free_list = *static_cast<void**>(block);
    ++g_audit.ring_takes;
    if (++g_audit.rings_in_use > g_audit.rings_high_water) g_audit.rings_high_water = g_audit.rings_in_use;
    return block;
}

void ring_give(void* block) {
    *static_cast<void**>(block) = g_rings.free_list;
    g_rings.free_list = block;
    --g_audit.rings_in_use;
}

void* allocate(size_t size) {
    if (g_started && size == g_rings.block_size) return ring_take();
    return std::malloc(size);  // wrapped: counted below
}

// The plain operator new may not return nullptr: without exceptions, running out
// of memory there stops the firmware (status 4) instead.
void* allocate_or_halt(size_t size) {
    void* p = allocate(size);
    if (!p) {
        console_put("quasi-board: out of memory in operator new\n");
        semihosting_exit(4);
    }
    return p;
}

void release(void* p) {
    if (!p) return;
    if (g_rings.owns(p)) return ring_give(p);
    std::free(p);
}

}  // namespace

void reserve_ring_pool(size_t block_size, size_t count) {
    g_rings.base = static_cast<uint8_t*>(std::malloc(block_size * count));
    if (!g_rings.base) return;
    g_rings.block_size = block_size;
    g_rings.count = count;
    for (size_t i = 0; i < count; ++i) {
        void* block = g_rings.base + i * block_size;
        *static_cast<void**>(block) = g_rings.free_list;
        g_rings.free_list = block;
    }
}

void end_startup() {
    g_started = true;
}
const HeapAudit& heap_audit() {
    return g_audit;
}

}  // namespace quasi::board

extern "C" {
void* __wrap_malloc(size_t size) {
    quasi::board::count_malloc(size);
    return __real_malloc(size);
}
void __wrap_free(void* p) {
    __real_free(p);
}
void* __wrap_calloc(size_t n, size_t size) {
    quasi::board::count_malloc(n * size);
    return __real_calloc(n, size);
}
void* __wrap_realloc(void* p, size_t size) {
    quasi::board::count_malloc(size);
    return __real_realloc(p, size);
}
}

// The core's allocations after start-up (the TCP rings) use new (std::nothrow) and
// handle nullptr; its start-up tables use the plain forms.
void* operator new(size_t size) {
    return quasi::board::allocate_or_halt(size);
}
void* operator new[](size_t size) {
    return quasi::board::allocate_or_halt(size);
}
void* operator new(size_t size, const std::nothrow_t&) noexcept {
    return quasi::board::allocate(size);
}
void* operator new[](size_t size, const std::nothrow_t&) noexcept {
    return quasi::board::allocate(size);
}
void operator delete(void* p) noexcept {
    quasi::board::release(p);
}
void operator delete[](void* p) noexcept {
    quasi::board::release(p);
}
void operator delete(void* p, size_t) noexcept {
    quasi::board::release(p);
}
void operator delete[](void* p, size_t) noexcept {
    quasi::board::release(p);
}
