// A MemorySource over one fixed region, for a board with no heap after start-up.
//
// A binary buddy allocator (Knowlton 1965; Knuth TAOCP vol. 1, 2.5): the region is a
// row of blocks of the largest size, each split in halves on demand down to the
// smallest; a freed block merges with its buddy (its address with the size bit
// flipped) while that one is free too. Every block is aligned to its size, so one
// arena serves what the core asks of a MemorySource: SlabPool chunks aligned to their
// 16 KiB, the byte rings' 2 KiB, 4 KiB, ... storage as it doubles, and the small
// tables rounded up to a power of two. Requests cost O(levels); nothing is taken
// from anywhere else, and a request the arena cannot meet is refused (nullptr) and
// counted, which is what the board's heap audit reads.
//
// Generic (no board code): the host's unit tests exercise it (tests/unit/
// buddy_arena_test.cpp).
#pragma once

#include "stack/memory.hpp"

#include <cstddef>
#include <cstdint>

namespace quasi::board {

class BuddyArena final : public MemorySource {
public:
    static constexpr size_t kMinBlock = 64;  // holds a free block's two links
    static constexpr size_t kMaxLevels = 16;

    struct Stats {
        uint64_t allocations = 0;
        uint64_t refusals = 0;    // requests it could not meet: the board asserts 0
        size_t bytes_in_use = 0;  // in whole blocks, the rounding included
        size_t high_water = 0;
    };

    // `region` must be aligned to max_block and `bytes` a multiple of it; max_block a
    // power of two from kMinBlock to kMinBlock << (kMaxLevels - 1). `map` holds one
    // byte per kMinBlock of the region (map_bytes()).
    BuddyArena(void* region, size_t bytes, size_t max_block, uint8_t* map);
    BuddyArena(const BuddyArena&) = delete;
    BuddyArena& operator=(const BuddyArena&) = delete;

    static constexpr size_t map_bytes(size_t region_bytes) { return region_bytes / kMinBlock; }
    // The block a request takes: at least bytes and align, a power of two.
    static constexpr size_t block_for(size_t bytes, size_t align) {
        size_t block = kMinBlock;
        while (block < bytes || block < align) block <<= 1;
        return block;
    }

    void* allocate(size_t bytes, size_t align) override;
    void deallocate(void* p, size_t bytes, size_t align) override;

    const Stats& stats() const { return stats_; }
    size_t size() const { return bytes_; }
    size_t largest_free() const;  // the largest block a request could get now

private:
    struct FreeBlock {
        FreeBlock* prev;
        FreeBlock* next;
    };
    size_t level_of(size_t block) const;  // 0: kMinBlock
    void push(size_t level, uint8_t* block);
    void unlink(size_t level, uint8_t* block);
    size_t index_of(const uint8_t* block) const { return static_cast<size_t>(block - base_) / kMinBlock; }

    uint8_t* base_;
    size_t bytes_;
    size_t levels_;  // block sizes kMinBlock << 0 .. levels_ - 1
    // map_[i]: level + 1 when a free block of that level starts at min-block i, else 0.
    uint8_t* map_;
    FreeBlock* free_[kMaxLevels] = {};
    Stats stats_;
};

}  // namespace quasi::board
