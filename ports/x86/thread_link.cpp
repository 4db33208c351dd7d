#include "ports/x86/thread_link.hpp"

#include <bit>
#include <cassert>

namespace quasi {

SpscPointerRing::SpscPointerRing(size_t capacity)
    : slots_(new PacketBuffer*[std::bit_ceil(capacity)]), mask_(std::bit_ceil(capacity) - 1) {}

bool SpscPointerRing::push(PacketBuffer* p) {
    size_t tail = tail_.load(std::memory_order_relaxed);
    if (tail - head_seen_ > mask_) {
        head_seen_ = head_.load(std::memory_order_acquire);
        if (tail - head_seen_ > mask_) return false;
    }
    slots_[tail & mask_] = p;
    tail_.store(tail + 1, std::memory_order_release);  // publishes the slot and the frame's bytes
    return true;
}

PacketBuffer* SpscPointerRing::pop() {
    size_t head = head_.load(std::memory_order_relaxed);
    if (head == tail_seen_) {
        tail_seen_ = tail_.load(std::memory_order_acquire);
        if (head == tail_seen_) return nullptr;
    }
    PacketBuffer* p = slots_[head & mask_];
    head_.store(head + 1, std::memory_order_release);  // the slot may be reused
    return p;
}

ThreadLink::ThreadLink(BufferPool& pool_a, BufferPool& pool_b, const Config& config)
    : a_("thrA", config.mac_a, config.mtu, config.queue_frames, pool_a),
      b_("thrB", config.mac_b, config.mtu, config.queue_frames, pool_b) {
    a_.peer_ = &b_;
    b_.peer_ = &a_;
    a_.return_source_.ring = &b_.returns_;
    b_.return_source_.ring = &a_.returns_;
}

// returns_ holds every buffer of the pool at most once, so it never fills.
ThreadLink::Endpoint::Endpoint(const char* name, MacAddr mac, uint16_t mtu, size_t queue_frames, BufferPool& pool)
    : name_(name),
      mac_(mac),
      mtu_(mtu),
      pool_(pool),
      inbox_(queue_frames),
      returns_(pool.capacity()),
      return_pool_(BufferPool::Config{.count = 0, .data_room = pool.data_room(), .headroom = pool.headroom()},
                   return_source_) {}

// Single-threaded again (the threads are joined): frames never received go back to
// their pools (or onto a return ring), then both ends take back what they were sent.
ThreadLink::~ThreadLink() {
    for (Endpoint* end : {&a_, &b_})
        while (PacketBuffer* p = end->inbox_.pop()) PacketPtr(p).reset();
    a_.reclaim();
    b_.reclaim();
}

void ThreadLink::Endpoint::ReturnSource::give_back(PacketBuffer* single) {
    bool pushed = ring->push(single);
    assert(pushed);  // sized for the whole pool
    (void)pushed;
}

void ThreadLink::Endpoint::reclaim() {
    while (PacketBuffer* p = returns_.pop()) {
        p->pool = &pool_;
        pool_.release(p);
    }
}

size_t ThreadLink::Endpoint::rx_burst(std::span<PacketPtr> out) {
    reclaim();
    size_t n = 0;
    while (n < out.size()) {
        PacketBuffer* p = inbox_.pop();
        if (!p) break;
        // From here this thread frees it: the peer's buffer into the ring back to the
        // peer; one of ours that the peer received and sent back (an ICMP echo reply
        // is the request's buffer) straight into our pool.
        for (PacketBuffer* seg = p; seg; seg = seg->next_segment)
            seg->pool = seg->pool == &peer_->return_pool_ ? &pool_ : &return_pool_;
        out[n++] = PacketPtr(p);
    }
    rx_frames_ += n;
    return n;
}

size_t ThreadLink::Endpoint::tx_burst(std::span<PacketPtr> frames) {
    reclaim();
    size_t n = 0;
    for (; n < frames.size(); ++n) {
        if (frames[n]->chain_length() > size_t{mtu_} + 18) break;  // Ethernet header and one 802.1Q tag
        PacketBuffer* p = frames[n].get();
        if (!peer_->inbox_.push(p)) {
            ++tx_full_events_;
            break;
        }
        frames[n].release();
    }
    tx_frames_ += n;
    return n;
}

}  // namespace quasi
