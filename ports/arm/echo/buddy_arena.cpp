#include "ports/arm/echo/buddy_arena.hpp"

namespace quasi::board {

BuddyArena::BuddyArena(void* region, size_t bytes, size_t max_block, uint8_t* map)
    : base_(static_cast<uint8_t*>(region)), bytes_(bytes), levels_(level_of(max_block) + 1), map_(map) {
    for (size_t i = 0; i < map_bytes(bytes_); ++i) map_[i] = 0;
    // The region as a row of the largest blocks, pushed in reverse so the first
    // requests take the lowest addresses.
    for (size_t offset = bytes_ - bytes_ % max_block; offset >= max_block;) {
        offset -= max_block;
        push(levels_ - 1, base_ + offset);
    }
}

size_t BuddyArena::level_of(size_t block) const {
    size_t level = 0;
    while ((kMinBlock << level) < block) ++level;
    return level;
}

void BuddyArena::push(size_t level, uint8_t* block) {
    auto* b = reinterpret_cast<FreeBlock*>(block);
    b->prev = nullptr;
    b->next = free_[level];
    if (b->next) b->next->prev = b;
    free_[level] = b;
    map_[index_of(block)] = static_cast<uint8_t>(level + 1);
}

void BuddyArena::unlink(size_t level, uint8_t* block) {
    auto* b = reinterpret_cast<FreeBlock*>(block);
    if (b->prev)
        b->prev->next = b->next;
    else
        free_[level] = b->next;
    if (b->next) b->next->prev = b->prev;
    map_[index_of(block)] = 0;
}

void* BuddyArena::allocate(size_t bytes, size_t align) {
    const size_t want = level_of(block_for(bytes, align));
    size_t level = want;
    while (level < levels_ && !free_[level]) ++level;
    if (level >= levels_) {
        ++stats_.refusals;
        return nullptr;
    }
    auto* block = reinterpret_cast<uint8_t*>(free_[level]);
    unlink(level, block);
    // Split down to the size asked for; the upper halves go on their free lists.
    while (level > want) {
        --level;
        push(level, block + (kMinBlock << level));
    }
    ++stats_.allocations;
    stats_.bytes_in_use += kMinBlock << want;
    if (stats_.bytes_in_use > stats_.high_water) stats_.high_water = stats_.bytes_in_use;
    return block;
}

void BuddyArena::deallocate(void* p, size_t bytes, size_t align) {
    if (!p) return;
    auto* block = static_cast<uint8_t*>(p);
    size_t level = level_of(block_for(bytes, align));
    stats_.bytes_in_use -= kMinBlock << level;
    // Merge while the buddy is a free block of the same size (and inside the region:
    // a last block without its buddy stays as it is).
    while (level + 1 < levels_) {
        const size_t offset = static_cast<size_t>(block - base_);
        const size_t buddy = offset ^ (kMinBlock << level);
        if (buddy >= bytes_ || map_[buddy / kMinBlock] != level + 1) break;
        unlink(level, base_ + buddy);
        block = base_ + (offset & buddy);
        ++level;
    }
    push(level, block);
}

size_t BuddyArena::largest_free() const {
    for (size_t level = levels_; level-- > 0;)
        if (free_[level]) return kMinBlock << level;
    return 0;
}

}  // namespace quasi::board
