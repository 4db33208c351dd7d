#include "stack/memory.hpp"

namespace quasi {

namespace {
class HeapMemory final : public MemorySource {
public:
    // Alignments malloc gives anyway take the plain path (glibc's memalign is slower).
    void* allocate(size_t bytes, size_t align) override {
        if (align <= __STDCPP_DEFAULT_NEW_ALIGNMENT__) return ::operator new(bytes, std::nothrow);
        return ::operator new(bytes, std::align_val_t(align), std::nothrow);
    }
    void deallocate(void* p, size_t, size_t align) override {
        if (align <= __STDCPP_DEFAULT_NEW_ALIGNMENT__) return ::operator delete(p);
        ::operator delete(p, std::align_val_t(align));
    }
};
}  // namespace

MemorySource& heap_memory() {
    static HeapMemory heap;
    return heap;
}

}  // namespace quasi
