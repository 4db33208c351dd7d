// ByteRing's storage: taken, grown and given back through the ring's budget; and
// SeqRangeSet's, taken from its source while the set is not empty. Apart
// from tcp_buffers.cpp because the specializer's bitcode links that file: in the
// bitcode, growing a ring calls the host (jit/bitcode/tcp_frozen.cpp), so a handle's
// code and the stack share one allocator.
#include "stack/tcp_buffers.hpp"

#include <algorithm>
#include <cstring>
#include <new>

namespace quasi {

void ByteRing::free_storage() {
    if (!storage_) return;
    MemorySource& source = budget_ && budget_->source ? *budget_->source : heap_memory();
    source.deallocate(storage_, allocated_, alignof(std::max_align_t));
    if (budget_) budget_->used -= allocated_;
    storage_ = nullptr;
    allocated_ = 0;
}

void ByteRing::release() {
    free_storage();
    capacity_ = 0;
    head_ = 0;
    size_ = 0;
    written_past_tail_ = 0;
}

void ByteRing::shrink_if_empty(size_t threshold) {
    if (size_ != 0 || written_past_tail_ != 0 || allocated_ > threshold) return;
    free_storage();
    head_ = 0;
}

bool ByteRing::grow(size_t bytes) {
    if (bytes > capacity_) return false;
    size_t grown = allocated_ ? allocated_ : std::min(kFirstAllocation, capacity_);
    while (grown < bytes) grown <<= 1;
    const size_t extra = grown - allocated_;
    if (budget_ && budget_->used + extra > budget_->limit) return false;
    MemorySource& source = budget_ && budget_->source ? *budget_->source : heap_memory();
    auto* fresh = static_cast<uint8_t*>(source.allocate(grown, alignof(std::max_align_t)));
    if (!fresh) return false;
    // Everything keeps its place relative to the head, the bytes past the tail too.
    if (storage_) {
        const size_t first = allocated_ - head_;
        std::memcpy(fresh, storage_ + head_, first);
        std::memcpy(fresh + first, storage_, head_);
    }
    free_storage();
    if (budget_) budget_->used += grown;
    storage_ = fresh;
    allocated_ = grown;
    head_ = 0;
    return true;
}

bool SeqRangeSet::take_storage() {
    void* p = (source_ ? *source_ : heap_memory()).allocate(max_ranges_ * sizeof(Slot), alignof(Slot));
    if (!p) return false;
    slots_ = static_cast<Slot*>(p);
    for (size_t i = 0; i < max_ranges_; ++i) new (&slots_[i]) Slot();
    return true;
}

void SeqRangeSet::give_back_storage() {
    if (!slots_) return;
    (source_ ? *source_ : heap_memory()).deallocate(slots_, max_ranges_ * sizeof(Slot), alignof(Slot));
    slots_ = nullptr;
}

}  // namespace quasi
