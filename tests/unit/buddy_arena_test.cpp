// The board's TCP arena (ports/arm/echo/buddy_arena.hpp), on the host: blocks aligned
// to their size, splits and merges back to whole, refusals counted, and a random
// sequence of the ring sizes checked against overlap with a model of live blocks.
#include "ports/arm/echo/buddy_arena.hpp"
#include "stack/random.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <vector>

namespace quasi::board {
namespace {

constexpr size_t kMax = 16 * 1024;

struct Arena {
    explicit Arena(size_t blocks)
        : region(new (std::align_val_t(kMax)) uint8_t[blocks * kMax]),
          map(BuddyArena::map_bytes(blocks * kMax)),
          arena(region, blocks * kMax, kMax, map.data()) {}
    ~Arena() { ::operator delete[](region, std::align_val_t(kMax)); }
    uint8_t* region;
    std::vector<uint8_t> map;
    BuddyArena arena;
};

TEST(BuddyArena, BlocksAreAlignedToTheirSizeAndRoundedUp) {
    Arena a(2);
    void* chunk = a.arena.allocate(kMax, kMax);
    void* ring = a.arena.allocate(2048, 8);
    void* small = a.arena.allocate(100, 8);
    ASSERT_TRUE(chunk && ring && small);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(chunk) % kMax, 0u);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(ring) % 2048, 0u);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(small) % 128, 0u);
    EXPECT_EQ(a.arena.stats().bytes_in_use, kMax + 2048 + 128);
}

TEST(BuddyArena, FreedBlocksMergeBackIntoTheLargest) {
    Arena a(1);
    std::vector<void*> rings;
    for (int i = 0; i < 8; ++i) rings.push_back(a.arena.allocate(2048, 8));
    EXPECT_EQ(a.arena.largest_free(), 0u);
    EXPECT_EQ(a.arena.allocate(64, 8), nullptr);
    EXPECT_EQ(a.arena.stats().refusals, 1u);
    // Freed out of order: only when all eight are back is the 16 KiB block whole.
    for (int i : {3, 0, 6, 1, 7, 2, 5}) a.arena.deallocate(rings[size_t(i)], 2048, 8);
    EXPECT_EQ(a.arena.largest_free(), 8192u);
    EXPECT_EQ(a.arena.allocate(kMax, kMax), nullptr);
    a.arena.deallocate(rings[4], 2048, 8);
    EXPECT_EQ(a.arena.largest_free(), kMax);
    EXPECT_NE(a.arena.allocate(kMax, kMax), nullptr);
    EXPECT_EQ(a.arena.stats().refusals, 2u);
}

TEST(BuddyArena, RandomRingSizesNeverOverlapAndAllComeBack) {
    Arena a(8);
    Random random(7);
    std::map<uint8_t*, size_t> live;  // start -> block size
    for (int step = 0; step < 20000; ++step) {
        if (live.empty() || random.below(3) != 0) {
            const size_t bytes = size_t{2048} << random.below(4);  // 2..16 KiB
            auto* p = static_cast<uint8_t*>(a.arena.allocate(bytes, 8));
            if (!p) continue;
            ASSERT_EQ(reinterpret_cast<uintptr_t>(p) % bytes, 0u);
            auto next = live.lower_bound(p);
            if (next != live.end()) {
                ASSERT_LE(p + bytes, next->first);
            }
            if (next != live.begin()) {
                ASSERT_LE(std::prev(next)->first + std::prev(next)->second, p);
            }
            std::memset(p, step & 0xff, bytes);
            live[p] = bytes;
        } else {
            auto it = std::next(live.begin(), long(random.below(uint32_t(live.size()))));
            a.arena.deallocate(it->first, it->second, 8);
            live.erase(it);
        }
    }
    for (auto& [p, bytes] : live) a.arena.deallocate(p, bytes, 8);
    EXPECT_EQ(a.arena.stats().bytes_in_use, 0u);
    EXPECT_EQ(a.arena.largest_free(), kMax);
    for (int i = 0; i < 8; ++i) EXPECT_NE(a.arena.allocate(kMax, kMax), nullptr);
    EXPECT_GT(a.arena.stats().refusals, 0u);  // the random phase did fill it
}

}  // namespace
}  // namespace quasi::board
