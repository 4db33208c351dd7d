#include "stack/tcp_buffers.hpp"

#include "stack/tcp_seq.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <new>

namespace quasi {

// ---- ByteRing ----

ByteRing& ByteRing::operator=(ByteRing&& other) noexcept {
    if (this != &other) {
        release();
        storage_ = std::exchange(other.storage_, nullptr);
        budget_ = std::exchange(other.budget_, nullptr);
        capacity_ = std::exchange(other.capacity_, 0);
        allocated_ = std::exchange(other.allocated_, 0);
        head_ = std::exchange(other.head_, 0);
        size_ = std::exchange(other.size_, 0);
        written_past_tail_ = std::exchange(other.written_past_tail_, 0);
    }
    return *this;
}

bool ByteRing::init(size_t capacity, RingBudget* budget) {
    release();
    constexpr size_t kLargest = (std::numeric_limits<size_t>::max() >> 1) + 1;
    if (capacity == 0 || capacity > kLargest) return false;
    capacity_ = std::bit_ceil(capacity);  // every connection sets two: no loop of doublings
    budget_ = budget;
    return true;
}

ByteRing::Spans ByteRing::raw_spans(size_t pos, size_t len) const {
    if (len == 0) return {};
    const size_t first = std::min(len, allocated_ - pos);
    return {{storage_ + pos, first}, {storage_, len - first}};
}

void ByteRing::copy_in(size_t pos, const uint8_t* data, size_t len) {
    const size_t first = std::min(len, allocated_ - pos);
    std::memcpy(storage_ + pos, data, first);
    if (len > first) std::memcpy(storage_, data + first, len - first);
}

size_t ByteRing::append(const uint8_t* data, size_t len) {
    const size_t n = write_at(0, data, len);
    size_ += n;
    written_past_tail_ = written_past_tail_ > n ? written_past_tail_ - n : 0;
    return n;
}

size_t ByteRing::write_at(size_t offset_from_tail, const uint8_t* data, size_t len) {
    const size_t free = free_space();
    if (offset_from_tail >= free || len == 0) return 0;
    size_t n = std::min(len, free - offset_from_tail);
    const size_t end = size_ + offset_from_tail + n;
    // Without the whole room, what storage there is (doubling as far as it can).
    if (!reserve(end)) {
        size_t want = end;
        while (want > allocated_ && !reserve(want)) want = std::max(allocated_, want / 2);
        if (size_ + offset_from_tail >= allocated_) return 0;
        n = std::min(n, allocated_ - size_ - offset_from_tail);
    }
    copy_in((head_ + size_ + offset_from_tail) & (allocated_ - 1), data, n);
    written_past_tail_ = std::max(written_past_tail_, offset_from_tail + n);
    return n;
}

void ByteRing::commit(size_t len) {
    const size_t n = std::min(len, std::min(free_space(), allocated_ - size_));
    size_ += n;
    written_past_tail_ = written_past_tail_ > n ? written_past_tail_ - n : 0;
}

size_t ByteRing::peek(size_t offset, uint8_t* out, size_t len) const {
    const Spans s = spans(offset, len);
    if (!s.first.empty()) std::memcpy(out, s.first.data(), s.first.size());
    if (!s.second.empty()) std::memcpy(out + s.first.size(), s.second.data(), s.second.size());
    return s.first.size() + s.second.size();
}

size_t ByteRing::consume(size_t len) {
    const size_t n = std::min(len, size_);
    if (n == 0) return 0;
    // The head is not rewound to 0 when the ring empties: bytes written past the
    // tail by write_at (out-of-order data) must stay where they are.
    head_ = (head_ + n) & (allocated_ - 1);
    size_ -= n;
    return n;
}

size_t ByteRing::read(uint8_t* out, size_t len) { return consume(peek(0, out, len)); }

ByteRing::Spans ByteRing::spans(size_t offset, size_t len) const {
    if (offset >= size_) return {};
    return raw_spans((head_ + offset) & (allocated_ - 1), std::min(len, size_ - offset));
}

// ---- SeqRangeSet ----

void SeqRangeSet::init(size_t max_ranges) {
    clear();
    max_ranges_ = std::clamp<size_t>(max_ranges, 1, kMaxRanges);
}

void SeqRangeSet::clear() {
    count_ = 0;
    give_back_storage();
}

size_t SeqRangeSet::first_ending_at_or_after(uint32_t seq) const {
    size_t i = 0;
    while (i < count_ && seq_lt(slots_[i].range.right, seq)) ++i;
    return i;
}

bool SeqRangeSet::insert(uint32_t left, uint32_t right) {
    if (!seq_lt(left, right)) return true;
    // Ranges [first, last) overlap or touch [left, right): they become one range.
    const size_t first = first_ending_at_or_after(left);
    size_t last = first;
    while (last < count_ && seq_le(slots_[last].range.left, right)) ++last;

    if (first == last) {
        if (count_ == max_ranges_ || (!slots_ && !take_storage())) return false;
        std::copy_backward(slots_ + first, slots_ + count_, slots_ + count_ + 1);
        slots_[first] = {{left, right}, ++clock_};
        ++count_;
        return true;
    }
    Range& merged = slots_[first].range;
    merged = {seq_min(left, merged.left), seq_max(right, slots_[last - 1].range.right)};
    // Even a duplicate inside one range refreshes its stamp: per RFC 2018 4 the range
    // holding the segment that triggered the ACK is reported first.
    slots_[first].stamp = ++clock_;
    const size_t merged_away = last - first - 1;
    if (merged_away > 0) {
        std::copy(slots_ + last, slots_ + count_, slots_ + first + 1);
        count_ -= merged_away;
    }
    return true;
}

void SeqRangeSet::remove_below(uint32_t seq) {
    size_t gone = 0;
    while (gone < count_ && seq_le(slots_[gone].range.right, seq)) ++gone;
    if (gone > 0) {
        std::copy(slots_ + gone, slots_ + count_, slots_);
        count_ -= gone;
        if (count_ == 0) give_back_storage();
    }
    if (count_ > 0 && seq_lt(slots_[0].range.left, seq)) slots_[0].range.left = seq;
}

bool SeqRangeSet::contains(uint32_t seq) const { return contiguous_from(seq) != seq; }

uint32_t SeqRangeSet::contiguous_from(uint32_t seq) const {
    for (size_t i = 0; i < count_; ++i) {
        const Range& r = slots_[i].range;
        if (seq_in(seq, r.left, r.right)) return r.right;
        if (seq_lt(seq, r.left)) break;
    }
    return seq;
}

uint32_t SeqRangeSet::covered_bytes() const {
    uint32_t total = 0;
    for (size_t i = 0; i < count_; ++i) total += slots_[i].range.length();
    return total;
}

size_t SeqRangeSet::most_recent(SackBlock* out, size_t max) const {
    // Selection by descending stamp; stamps are unique, and count_ <= kMaxRanges and
    // max <= 4 in practice, so the quadratic walk is a few dozen comparisons.
    const size_t n = std::min(max, count_);
    uint64_t below = std::numeric_limits<uint64_t>::max();
    for (size_t k = 0; k < n; ++k) {
        size_t best = count_;
        for (size_t i = 0; i < count_; ++i) {
            if (slots_[i].stamp < below && (best == count_ || slots_[i].stamp > slots_[best].stamp)) best = i;
        }
        out[k] = SackBlock{slots_[best].range.left, slots_[best].range.right};
        below = slots_[best].stamp;
    }
    return n;
}

}  // namespace quasi
