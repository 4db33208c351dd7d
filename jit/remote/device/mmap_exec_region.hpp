// The host's executable region for remotely specialized code: an anonymous mapping
// that is either writable or executable, never both (W^X). Linux only.
#pragma once

#include "jit/remote/device/exec_region.hpp"

namespace quasi::remote {

class MmapExecRegion final : public ExecRegion {
public:
    explicit MmapExecRegion(size_t bytes);  // rounded up to pages; valid() false if mmap failed
    ~MmapExecRegion() override;
    MmapExecRegion(const MmapExecRegion&) = delete;
    MmapExecRegion& operator=(const MmapExecRegion&) = delete;

    bool valid() const { return base_ != nullptr; }
    std::span<uint8_t> bytes() override { return {base_, size_}; }
    void begin_write() override;
    void end_write(size_t offset, size_t len) override;
    uint64_t writes() const { return writes_; }

private:
    uint8_t* base_ = nullptr;
    size_t size_ = 0;
    uint64_t writes_ = 0;
};

}  // namespace quasi::remote
