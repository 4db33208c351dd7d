// Packet buffers: fixed pools, headroom for headers, chained segments.
//
// A PacketBuffer is a descriptor that points at storage it does not own by itself:
// the storage normally comes from its BufferPool's block, but a port may attach
// foreign storage (a DPDK rte_mbuf's data room) by setting `backing` and giving the
// pool a release hook, so no copy is needed between the NIC and the stack.
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

struct PacketDeleter {
    void operator()(PacketBuffer* chain) const;
};
using PacketPtr = std::unique_ptr<PacketBuffer, PacketDeleter>;

// Appends `tail` to the end of `head`'s chain.
void chain_append(PacketBuffer& head, PacketPtr tail);

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
    BufferPool(const BufferPool&) = delete;
    BufferPool& operator=(const BufferPool&) = delete;
    ~BufferPool();

    // A buffer with the configured headroom, or null when the pool is exhausted.
    PacketPtr alloc();
    void release(PacketBuffer* single);

    size_t available() const { return free_count_; }
    size_t capacity() const { return config_.count; }
    size_t data_room() const { return config_.data_room; }
    size_t headroom() const { return config_.headroom; }
    uint64_t alloc_failures() const { return alloc_failures_; }

private:
    Config config_;
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
