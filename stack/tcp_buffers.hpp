// TCP connection buffers: a byte ring for send and receive data, and a bounded set of
// sequence ranges for out-of-order bookkeeping and the SACK scoreboard.
//
// A ByteRing's capacity (the socket buffer size, what windows are computed from) is
// only a limit: its storage is taken when bytes arrive, starting small and doubling up
// to that limit, from a RingBudget (a MemorySource and a cap on all rings together),
// and can be given back when it empties (shrink_if_empty), so an idle connection holds
// no ring memory. SeqRangeSet takes its slots from a MemorySource while not empty. Neither throws nor uses RTTI, so
// they build for the bare-metal core.
#pragma once

#include "stack/memory.hpp"
#include "stack/wire/tcp.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <utility>

namespace quasi {

// The memory every ring of a TCP layer draws from, and how much they hold together.
struct RingBudget {
    MemorySource* source = nullptr;  // nullptr: the heap
    size_t limit = ~size_t{0};
    size_t used = 0;
};

// A byte ring of power-of-two capacity. The readable bytes run from the head for
// size(); the free space past them (the tail) can also hold bytes that are written
// but not yet readable (write_at), which is how the receive buffer keeps out-of-order
// data at its place in the window until the hole before it is filled (commit).
//
// Every operation clips to what fits and returns how much it did, never failing
// otherwise; a default-constructed or released ring has capacity 0 and takes nothing.
class ByteRing {
public:
    struct Spans {
        std::span<const uint8_t> first;
        std::span<const uint8_t> second;  // non-empty only when the range wraps
    };
    struct WriteSpans {
        std::span<uint8_t> first;
        std::span<uint8_t> second;  // non-empty only when the range wraps
    };

    ByteRing() = default;
    ByteRing(const ByteRing&) = delete;
    ByteRing& operator=(const ByteRing&) = delete;
    // Moving hands the storage over and leaves the source released.
    ByteRing(ByteRing&& other) noexcept { *this = std::move(other); }
    ByteRing& operator=(ByteRing&& other) noexcept;

    ~ByteRing() { release(); }

    // Sets the capacity, rounded up to a power of two (so indices wrap by masking);
    // drops any previous storage and contents. Storage is taken later, as bytes come
    // (from `budget`, or the heap without one). False when capacity is 0 or too large;
    // the ring is then empty with capacity 0.
    bool init(size_t capacity, RingBudget* budget = nullptr);
    void release();
    // Makes sure storage holds `bytes` from the head (growing it, up to the capacity);
    // false when the capacity, the budget or the memory does not allow it.
    bool reserve(size_t bytes) { return bytes <= allocated_ || grow(bytes); }
    // Gives the storage back if the ring is empty, nothing lies past its tail, and the
    // storage is at most `threshold` bytes; the capacity stays.
    void shrink_if_empty(size_t threshold);

    // The first storage a ring takes (the capacity if smaller); it doubles from there.
    static constexpr size_t kFirstAllocation = 2048;

    size_t capacity() const { return capacity_; }
    size_t allocated() const { return allocated_; }  // bytes of storage held now
    size_t size() const { return size_; }  // bytes readable from the head
    size_t free_space() const { return capacity() - size_; }
    bool empty() const { return size_ == 0; }

    // Copies at the tail and makes the bytes readable; returns min(len, free_space()),
    // or less when storage cannot grow that far.
    size_t append(const uint8_t* data, size_t len);
    // Copies at offset_from_tail bytes past the tail without making them readable;
    // clipped to the free space (and the storage it can get), returns bytes written
    // (0 when offset is past it).
    size_t write_at(size_t offset_from_tail, const uint8_t* data, size_t len);
    // Makes len more bytes past the tail readable (clipped to the free space).
    void commit(size_t len);
    // The storage of the len bytes past the tail, to be written in place and then
    // made readable by commit(len) (one copy where append would be a second one).
    // len must lie within what reserve() secured: size() + len <= allocated().
    WriteSpans tail_spans(size_t len) {
        if (len == 0) return {};
        const size_t pos = (head_ + size_) & (allocated_ - 1);
        const size_t first = len < allocated_ - pos ? len : allocated_ - pos;
        return {{storage_ + pos, first}, {storage_, len - first}};
    }

    // Copies from head + offset without consuming; returns bytes copied.
    size_t peek(size_t offset, uint8_t* out, size_t len) const;
    // Drops up to len bytes from the head; returns bytes dropped.
    size_t consume(size_t len);
    // Takes back up to len bytes from the tail: no longer readable, they count as
    // written past it. Remote verify mode undoes a send's append with it
    // (jit/remote/device/tcp_verify.hpp).
    size_t drop_tail(size_t len) {
        const size_t n = len < size_ ? len : size_;
        size_ -= n;
        written_past_tail_ += n;
        return n;
    }
    size_t read(uint8_t* out, size_t len);

    // The readable bytes [head + offset, head + offset + len), clipped to size(), as
    // at most two contiguous spans, so a segment can be copied and checksummed
    // straight from the ring. Valid until the next append/write_at/init/release.
    Spans spans(size_t offset, size_t len) const;

private:
    // The storage as [pos, pos + len) in ring positions relative to index 0, split at
    // the end; pos must already be masked and len <= capacity().
    Spans raw_spans(size_t pos, size_t len) const;
    void copy_in(size_t pos, const uint8_t* data, size_t len);

    bool grow(size_t bytes);  // tcp_ring_memory.cpp, like the two below
    void free_storage();

    uint8_t* storage_ = nullptr;
    RingBudget* budget_ = nullptr;
    size_t capacity_ = 0;   // a power of two, or 0 before init
    size_t allocated_ = 0;  // storage bytes: 0 or a power of two up to capacity_
    size_t head_ = 0;  // masked index of the first readable byte
    size_t size_ = 0;
    size_t written_past_tail_ = 0;  // extent of write_at data beyond the tail
};

// A sorted set of disjoint, non-adjacent half-open ranges [left, right) of sequence
// numbers, compared modulo 2^32 (RFC 9293 3.4): all ranges held must lie within 2^31
// of each other, which a TCP window (at most 2^30, RFC 7323 2.3) guarantees.
//
// The number of ranges is capped at runtime (at most kMaxRanges): an insert that
// would need one more range than the cap fails and changes nothing, so the caller can
// drop the segment and count it. This bounds the work per segment and the memory of
// an out-of-order flood (SegmentSmack, CVE-2018-5390) and of SACK-driven splitting
// (CVE-2019-11478).
class SeqRangeSet {
public:
    static constexpr size_t kMaxRanges = 32;

    struct Range {
        uint32_t left = 0;
        uint32_t right = 0;
        uint32_t length() const { return right - left; }
    };

    // max_ranges is clamped to [1, kMaxRanges].
    explicit SeqRangeSet(size_t max_ranges = 16) { init(max_ranges); }
    SeqRangeSet(const SeqRangeSet&) = delete;
    SeqRangeSet& operator=(const SeqRangeSet&) = delete;
    ~SeqRangeSet() { give_back_storage(); }
    // Empties the set and sets a new cap (clamped as above).
    void init(size_t max_ranges);
    // Where the ranges' storage comes from (nullptr: the heap); set while empty.
    void set_source(MemorySource* source) { source_ = source; }
    void clear();

    // Adds [left, right), merging with every range it overlaps or touches. An empty
    // or reversed range (right <= left in sequence space) is nothing to add: true,
    // unchanged. False, unchanged, when the range would need a slot beyond the cap.
    bool insert(uint32_t left, uint32_t right);
    // Forgets every sequence number before seq, trimming a range that straddles it.
    void remove_below(uint32_t seq);

    bool contains(uint32_t seq) const;
    // The right edge of the range holding seq, or seq when none does: where RCV.NXT
    // moves once the data at seq has arrived.
    uint32_t contiguous_from(uint32_t seq) const;
    uint32_t covered_bytes() const;

    size_t count() const { return count_; }
    bool empty() const { return count_ == 0; }
    bool full() const { return count_ == max_ranges_; }
    size_t max_ranges() const { return max_ranges_; }
    // Ranges in ascending sequence order; index < count().
    const Range& operator[](size_t index) const { return slots_[index].range; }

    // Up to max ranges as SACK blocks, most recently inserted-into first (RFC 2018 4:
    // the first block holds the segment that triggered the ACK, the others repeat
    // the most recently reported first blocks). Returns the number written.
    size_t most_recent(SackBlock* out, size_t max) const;

private:
    // First index whose range ends at or after seq (the first that seq can touch).
    size_t first_ending_at_or_after(uint32_t seq) const;

    // The ranges live in storage taken at the first insert and given back when the
    // set empties (tcp_ring_memory.cpp): a connection without loss or reordering,
    // idle ones above all, holds none.
    struct Slot {
        Range range;
        uint64_t stamp = 0;  // insertion stamp, for most_recent(); 64 bits never wrap
    };
    bool take_storage();
    void give_back_storage();

    Slot* slots_ = nullptr;
    MemorySource* source_ = nullptr;
    uint64_t clock_ = 0;
    size_t count_ = 0;
    size_t max_ranges_ = 0;
};

}  // namespace quasi
