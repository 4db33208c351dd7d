#include "stack/tcp_buffers.hpp"

#include "stack/tcp_seq.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <new>

namespace quasi {

// ---- ByteRing ----

ByteRing& ByteRing::operator=(ByteRing&& other) noexcept {
    if (this != &other) {
        storage_ = std::move(other.storage_);
        capacity_ = std::exchange(other.capacity_, 0);
        head_ = std::exchange(other.head_, 0);
        size_ = std::exchange(other.size_, 0);
    }
    return *this;
}

bool ByteRing::init(size_t capacity) {
    release();
    constexpr size_t kLargest = (std::numeric_limits<size_t>::max() >> 1) + 1;
    if (capacity == 0 || capacity > kLargest) return false;
    size_t rounded = 1;
    while (rounded < capacity) rounded <<= 1;
    storage_.reset(new (std::nothrow) uint8_t[rounded]);
    if (!storage_) return false;
    capacity_ = rounded;
    return true;
}

void ByteRing::release() {
    storage_.reset();
    capacity_ = 0;
    head_ = 0;
    size_ = 0;
}

ByteRing::Spans ByteRing::raw_spans(size_t pos, size_t len) const {
    if (len == 0) return {};
    const size_t first = std::min(len, capacity_ - pos);
    return {{storage_.get() + pos, first}, {storage_.get(), len - first}};
}

void ByteRing::copy_in(size_t pos, const uint8_t* data, size_t len) {
    const size_t first = std::min(len, capacity_ - pos);
    std::memcpy(storage_.get() + pos, data, first);
    if (len > first) std::memcpy(storage_.get(), data + first, len - first);
}

size_t ByteRing::append(const uint8_t* data, size_t len) {
    const size_t n = write_at(0, data, len);
    size_ += n;
    return n;
}

size_t ByteRing::write_at(size_t offset_from_tail, const uint8_t* data, size_t len) {
    const size_t free = free_space();
    if (offset_from_tail >= free || len == 0) return 0;
    const size_t n = std::min(len, free - offset_from_tail);
    copy_in((head_ + size_ + offset_from_tail) & (capacity_ - 1), data, n);
    return n;
}

void ByteRing::commit(size_t len) { size_ += std::min(len, free_space()); }

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
    head_ = (head_ + n) & (capacity_ - 1);
    size_ -= n;
    return n;
}

size_t ByteRing::read(uint8_t* out, size_t len) { return consume(peek(0, out, len)); }

ByteRing::Spans ByteRing::spans(size_t offset, size_t len) const {
    if (offset >= size_) return {};
    return raw_spans((head_ + offset) & (capacity_ - 1), std::min(len, size_ - offset));
}

// ---- SeqRangeSet ----

void SeqRangeSet::init(size_t max_ranges) {
    max_ranges_ = std::clamp<size_t>(max_ranges, 1, kMaxRanges);
    clear();
}

void SeqRangeSet::clear() { count_ = 0; }

size_t SeqRangeSet::first_ending_at_or_after(uint32_t seq) const {
    size_t i = 0;
    while (i < count_ && seq_lt(ranges_[i].right, seq)) ++i;
    return i;
}

bool SeqRangeSet::insert(uint32_t left, uint32_t right) {
    if (!seq_lt(left, right)) return true;
    // Ranges [first, last) overlap or touch [left, right): they become one range.
    const size_t first = first_ending_at_or_after(left);
    size_t last = first;
    while (last < count_ && seq_le(ranges_[last].left, right)) ++last;

    if (first == last) {
        if (count_ == max_ranges_) return false;
        std::copy_backward(ranges_.begin() + first, ranges_.begin() + count_, ranges_.begin() + count_ + 1);
        std::copy_backward(stamps_.begin() + first, stamps_.begin() + count_, stamps_.begin() + count_ + 1);
        ranges_[first] = {left, right};
        stamps_[first] = ++clock_;
        ++count_;
        return true;
    }
    ranges_[first] = {seq_min(left, ranges_[first].left), seq_max(right, ranges_[last - 1].right)};
    // Even a duplicate inside one range refreshes its stamp: per RFC 2018 4 the range
    // holding the segment that triggered the ACK is reported first.
    stamps_[first] = ++clock_;
    const size_t merged_away = last - first - 1;
    if (merged_away > 0) {
        std::copy(ranges_.begin() + last, ranges_.begin() + count_, ranges_.begin() + first + 1);
        std::copy(stamps_.begin() + last, stamps_.begin() + count_, stamps_.begin() + first + 1);
        count_ -= merged_away;
    }
    return true;
}

void SeqRangeSet::remove_below(uint32_t seq) {
    size_t gone = 0;
    while (gone < count_ && seq_le(ranges_[gone].right, seq)) ++gone;
    if (gone > 0) {
        std::copy(ranges_.begin() + gone, ranges_.begin() + count_, ranges_.begin());
        std::copy(stamps_.begin() + gone, stamps_.begin() + count_, stamps_.begin());
        count_ -= gone;
    }
    if (count_ > 0 && seq_lt(ranges_[0].left, seq)) ranges_[0].left = seq;
}

bool SeqRangeSet::contains(uint32_t seq) const { return contiguous_from(seq) != seq; }

uint32_t SeqRangeSet::contiguous_from(uint32_t seq) const {
    for (size_t i = 0; i < count_; ++i) {
        if (seq_in(seq, ranges_[i].left, ranges_[i].right)) return ranges_[i].right;
        if (seq_lt(seq, ranges_[i].left)) break;
    }
    return seq;
}

uint32_t SeqRangeSet::covered_bytes() const {
    uint32_t total = 0;
    for (size_t i = 0; i < count_; ++i) total += ranges_[i].length();
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
            if (stamps_[i] < below && (best == count_ || stamps_[i] > stamps_[best])) best = i;
        }
        out[k] = SackBlock{ranges_[best].left, ranges_[best].right};
        below = stamps_[best];
    }
    return n;
}

}  // namespace quasi
