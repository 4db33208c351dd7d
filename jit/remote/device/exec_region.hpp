// Where a device keeps remotely specialized code: a region it can write and then
// execute. The port supplies it (ports/arm/<board>/ a static block of SRAM, which a
// Cortex-M3 without an MPU executes as it is; the host an mmap'd W^X mapping). The
// code buffer (code_buffer.hpp) writes into it only between begin_write() and
// end_write(), and only bytes from a reply that passed every check.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace quasi::remote {

class ExecRegion {
public:
    virtual ~ExecRegion() = default;
    // The region's bytes, as the device writes them; code runs at the same addresses.
    virtual std::span<uint8_t> bytes() = 0;
    // Makes the region writable (W^X: no longer executable meanwhile).
    virtual void begin_write() = 0;
    // Makes it executable again and makes [offset, offset + len) visible to
    // instruction fetch (cache maintenance, barriers).
    virtual void end_write(size_t offset, size_t len) = 0;
};

// Memory that is writable and executable as it is (a board's SRAM); `sync` runs
// after each write (the port's barrier: DSB/ISB on a Cortex-M), may be null.
class PlainExecRegion final : public ExecRegion {
public:
    using Sync = void (*)(void* begin, size_t len);
    PlainExecRegion(std::span<uint8_t> memory, Sync sync) : memory_(memory), sync_(sync) {}
    std::span<uint8_t> bytes() override { return memory_; }
    void begin_write() override {}
    void end_write(size_t offset, size_t len) override {
        if (sync_) sync_(memory_.data() + offset, len);
    }

private:
    std::span<uint8_t> memory_;
    Sync sync_;
};

}  // namespace quasi::remote
