// Packet buffers: fixed pools, headroom for headers, chained segments.
//
// A PacketBuffer is a descriptor that points at storage it does not own by itself:
// the storage normally comes from its BufferPool's block, but a pool built over a
// BufferSource takes its descriptors from a port instead (ports/x86/dpdk: each sits in
// an rte_mbuf's private area over the mbuf's data room, `backing` naming the mbuf), so
// no copy is needed between the NIC and the stack. That is the only seam: the stack
// sees one buffer type and one pool type either way.
//
// Ownership is explicit: a PacketPtr owns a whole chain and returns every segment
// to its pool when it goes away. Queues are Boost.Intrusive lists over the buffers
// themselves, so queueing never allocates.
#pragma once

#include <boost/intrusive/slist.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace quasi {

class BufferPool;

struct PacketBuffer {
    boost::intrusive::slist_member_hook<> queue_hook;

    uint8_t* storage = nullptr;  // start of the data room
    uint16_t capacity = 0;       // bytes in the data room
    uint16_t head = 0;           // offset of the first valid byte
    uint16_t length = 0;         // valid bytes from head
    PacketBuffer* next_segment = nullptr;  // the rest of a chained packet
    BufferPool* pool = nullptr;
    void* backing = nullptr;     // foreign storage owner (e.g. rte_mbuf), if any
    uint32_t meta = 0;           // per-layer scratch: kMetaLinkBroadcast on receive, then the layers' own

    uint8_t* data() { return storage + head; }
    const uint8_t* data() const { return storage + head; }
    std::span<uint8_t> bytes() { return {data(), length}; }
    std::span<const uint8_t> bytes() const { return {data(), length}; }
    size_t headroom() const { return head; }
    size_t tailroom() const { return capacity - head - length; }

    // Grows the front by n bytes (for a lower-layer header); nullptr if no headroom.
    uint8_t* prepend(size_t n);
    // Grows the back by n bytes; nullptr if no tailroom.
    uint8_t* append(size_t n);
    // Drops n bytes from the front (n <= length).
    void trim_front(size_t n);
    // Keeps only the first n bytes (n <= length).
    void truncate(size_t n);
    // Keeps only the first n bytes of the whole chain (later segments become empty).
    void truncate_chain(size_t n);
    // Empties the buffer and leaves `room` bytes of headroom.
    void reset(size_t room);

    // Sum of the lengths of this segment and all that follow it.
    size_t chain_length() const;
    // Copies up to len bytes starting at offset within the chain; returns bytes copied.
    size_t copy_out(size_t offset, uint8_t* dst, size_t len) const;
};

// Set in PacketBuffer::meta by Ethernet input for frames sent to the broadcast MAC:
// no ICMP error may answer them (RFC 1122 3.2.2), whatever their IP destination.
constexpr uint32_t kMetaLinkBroadcast = 1;
// Set in PacketBuffer::meta on transmit, only toward a Netif whose offloads() has
// tx_checksum: the frame's TCP or UDP checksum field holds the pseudo-header's folded
// one's-complement sum (RFC 1071, not complemented) and the device completes it over
// the segment, as NICs with partial checksum offload expect.
constexpr uint32_t kMetaTxChecksumPartial = 2;

struct PacketDeleter {
    void operator()(PacketBuffer* chain) const;
};
using PacketPtr = std::unique_ptr<PacketBuffer, PacketDeleter>;

// Appends `tail` to the end of `head`'s chain.
void chain_append(PacketBuffer& head, PacketPtr tail);

// Where a pool's buffers come from when the pool does not own them (a port's packet
// memory). take() hands out a descriptor whose storage, capacity and backing are set
// (null when empty); give_back() returns one segment. The pool does the rest (headroom,
// meta, ownership), so a source is a thin adapter over the foreign allocator.
class BufferSource {
public:
    virtual ~BufferSource() = default;
    virtual PacketBuffer* take() = 0;
    virtual void give_back(PacketBuffer* single) = 0;
    // Buffers the source could hand out now, and all it has (both in and out).
    virtual size_t available() const = 0;
    virtual size_t capacity() const = 0;
};

// A fixed pool of equal buffers. All memory is taken at construction; alloc never
// calls the heap. Not thread-safe: one pool per Stack (one Stack per core).
class BufferPool {
public:
    struct Config {
        size_t count = 1024;
        size_t data_room = 2048;  // bytes per buffer
        size_t headroom = 128;    // reserved in front on alloc
    };
    explicit BufferPool(const Config& config);
    // A pool over a port's buffers: config.headroom is reserved on alloc, count and
    // data_room are the source's (the source must outlive the pool).
    BufferPool(const Config& config, BufferSource& source);
    BufferPool(const BufferPool&) = delete;
    BufferPool& operator=(const BufferPool&) = delete;
    ~BufferPool();

    // A buffer with the configured headroom, or null when the pool is exhausted.
    PacketPtr alloc();
    void release(PacketBuffer* single);

    size_t available() const { return source_ ? source_->available() : free_count_; }
    size_t capacity() const { return source_ ? source_->capacity() : config_.count; }
    // Non-null when the buffers are a port's (PacketBuffer::backing is then set).
    BufferSource* source() const { return source_; }
    size_t data_room() const { return config_.data_room; }
    size_t headroom() const { return config_.headroom; }
    uint64_t alloc_failures() const { return alloc_failures_; }

private:
    Config config_;
    BufferSource* source_ = nullptr;
    std::unique_ptr<uint8_t[]> block_;
    std::unique_ptr<PacketBuffer[]> descriptors_;
    PacketBuffer* free_list_ = nullptr;
    size_t free_count_ = 0;
    uint64_t alloc_failures_ = 0;
};

// FIFO of owned packets; frees what is left when destroyed.
class PacketQueue {
public:
    PacketQueue() = default;
    PacketQueue(const PacketQueue&) = delete;
    PacketQueue& operator=(const PacketQueue&) = delete;
    ~PacketQueue() { clear(); }

    void push_back(PacketPtr p) { list_.push_back(*p.release()); }
    PacketPtr pop_front() {
        if (list_.empty()) return nullptr;
        PacketBuffer& b = list_.front();
        list_.pop_front();
        return PacketPtr(&b);
    }
    PacketBuffer* front() { return list_.empty() ? nullptr : &list_.front(); }
    bool empty() const { return list_.empty(); }
    size_t size() const { return list_.size(); }
    void clear() {
        while (!list_.empty()) pop_front();
    }

private:
    using List = boost::intrusive::slist<
        PacketBuffer,
        boost::intrusive::member_hook<PacketBuffer, boost::intrusive::slist_member_hook<>,
                                      &PacketBuffer::queue_hook>,
        boost::intrusive::cache_last<true>, boost::intrusive::constant_time_size<true>>;
    List list_;
};

}  // namespace quasi
