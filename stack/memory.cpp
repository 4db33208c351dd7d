#include "stack/memory.hpp"

namespace quasi {

namespace {
class HeapMemory final : public MemorySource {
public:
    void* allocate(size_t bytes, size_t align) override {
        return ::operator new(bytes, std::align_val_t(align), std::nothrow);
    }
    void deallocate(void* p, size_t, size_t align) override { ::operator delete(p, std::align_val_t(align)); }
};
}  // namespace

MemorySource& heap_memory() {
    static HeapMemory heap;
    return heap;
}

}  // namespace quasi
