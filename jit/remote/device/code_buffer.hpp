// The bounded code buffer of a device: remotely specialized code for its handles,
// placed in the port's executable region, least recently used code evicted when a
// new request needs room. A request reserves room first (its address goes into the
// request: the server links the code for it); the reply's bytes are copied in only
// after they passed every check (remote_client.cpp), then the entry shrinks to the
// code's size. Fixed tables, no allocation: the board runs this.
#pragma once

#include "jit/remote/device/exec_region.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace quasi::remote {

class CodeBuffer {
public:
    static constexpr size_t kMaxEntries = 32;
    static constexpr size_t kAlign = 16;  // entries start on a cache-line-friendly boundary
    static constexpr int kNone = -1;

    // Told when an entry is evicted to make room (its owner's code is gone).
    struct EvictListener {
        virtual void code_evicted(uint32_t owner, int entry) = 0;

    protected:
        ~EvictListener() = default;
    };

    CodeBuffer(ExecRegion& region, EvictListener* listener) : region_(region), listener_(listener) {}

    // Reserves `bytes` for `owner` (pinned: never evicted until installed or
    // released); evicts installed entries, least recently used first, to make room.
    // The entry id, or kNone when no room can be made.
    int reserve(size_t bytes, uint32_t owner);
    // Copies `code` into a reserved entry (code.size() <= its reservation, checked)
    // and makes it executable; the entry shrinks to the code. False if it does not fit.
    bool install(int id, std::span<const uint8_t> code);
    void touch(int id) { entries_[id].last_use = ++tick_; }
    void release(int id);

    uint64_t address(int id) { return reinterpret_cast<uintptr_t>(region_.bytes().data()) + entries_[id].offset; }
    size_t capacity(int id) const { return entries_[id].size; }
    size_t used_bytes() const;
    size_t entries() const;
    uint64_t evictions() const { return evictions_; }
    uint64_t installs() const { return installs_; }

private:
    struct Entry {
        size_t offset = 0;
        size_t size = 0;
        uint64_t last_use = 0;
        uint32_t owner = 0;
        bool used = false;
        bool pinned = false;
    };
    bool find_gap(size_t bytes, size_t& offset) const;
    bool evict_one();

    ExecRegion& region_;
    EvictListener* listener_;
    std::array<Entry, kMaxEntries> entries_{};
    uint64_t tick_ = 0;
    uint64_t evictions_ = 0;
    uint64_t installs_ = 0;
};

}  // namespace quasi::remote
