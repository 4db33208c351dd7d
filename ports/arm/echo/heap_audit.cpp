#include "ports/arm/echo/heap_audit.hpp"

#include "ports/arm/mps2-an385/board.hpp"

#include <malloc.h>

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

void count_malloc(size_t size) {
    if (g_started) {
        ++g_audit.data_path_allocations;
        g_audit.data_path_bytes += size;
    } else {
        ++g_audit.startup_allocations;
        g_audit.startup_bytes += size;
    }
}

void* allocate(size_t size) {
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
    std::free(p);
}

// newlib's memalign takes its block from the allocator without calling malloc, so
// the aligned forms are counted here (heap_memory() uses them above 8-byte alignment).
void* allocate_aligned(size_t size, std::align_val_t align) {
    count_malloc(size);
    return memalign(static_cast<size_t>(align), size);
}

}  // namespace

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

// The core's start-up tables use the plain forms; heap_memory() (the MemorySource of
// whatever is not given the arena) uses new (std::nothrow) and handles nullptr.
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
void* operator new(size_t size, std::align_val_t align) {
    void* p = quasi::board::allocate_aligned(size, align);
    if (!p) {
        quasi::board::console_put("quasi-board: out of memory in operator new\n");
        quasi::board::semihosting_exit(4);
    }
    return p;
}
void* operator new(size_t size, std::align_val_t align, const std::nothrow_t&) noexcept {
    return quasi::board::allocate_aligned(size, align);
}
void operator delete(void* p, std::align_val_t) noexcept {
    quasi::board::release(p);
}
void operator delete(void* p, size_t, std::align_val_t) noexcept {
    quasi::board::release(p);
}
