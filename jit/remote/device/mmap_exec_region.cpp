#include "jit/remote/device/mmap_exec_region.hpp"

#include <sys/mman.h>
#include <unistd.h>

namespace quasi::remote {

MmapExecRegion::MmapExecRegion(size_t bytes) {
    size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    size_ = (bytes + page - 1) / page * page;
    void* p = mmap(nullptr, size_, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        size_ = 0;
        return;
    }
    base_ = static_cast<uint8_t*>(p);
}

MmapExecRegion::~MmapExecRegion() {
    if (base_) munmap(base_, size_);
}

void MmapExecRegion::begin_write() {
    ++writes_;
    mprotect(base_, size_, PROT_READ | PROT_WRITE);
}

void MmapExecRegion::end_write(size_t offset, size_t len) {
    mprotect(base_, size_, PROT_READ | PROT_EXEC);
    // x86 keeps instruction fetch coherent; AArch64 needs the cache maintenance.
    __builtin___clear_cache(reinterpret_cast<char*>(base_ + offset), reinterpret_cast<char*>(base_ + offset + len));
}

}  // namespace quasi::remote
