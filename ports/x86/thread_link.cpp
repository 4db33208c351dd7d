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

size_t SpscPointerRing::push_burst(PacketBuffer* const* items, size_t n) {
    size_t tail = tail_.load(std::memory_order_relaxed);
    if (tail - head_seen_ + n > capacity()) head_seen_ = head_.load(std::memory_order_acquire);
    size_t room = capacity() - (tail - head_seen_);
    if (n > room) n = room;
    for (size_t i = 0; i < n; ++i) slots_[(tail + i) & mask_] = items[i];
    if (n > 0) tail_.store(tail + n, std::memory_order_release);
    return n;
}

size_t SpscPointerRing::pop_burst(PacketBuffer** out, size_t n) {
    size_t head = head_.load(std::memory_order_relaxed);
    if (tail_seen_ - head < n) tail_seen_ = tail_.load(std::memory_order_acquire);
    size_t ready = tail_seen_ - head;
    if (n > ready) n = ready;
    for (size_t i = 0; i < n; ++i) out[i] = slots_[(head + i) & mask_];
    if (n > 0) head_.store(head + n, std::memory_order_release);
    return n;
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
    PacketBuffer* burst[64] = {};
    for (size_t n; (n = returns_.pop_burst(burst, 64)) > 0;)
        for (size_t i = 0; i < n; ++i) {
            burst[i]->pool = &pool_;
            pool_.release(burst[i]);
        }
}

size_t ThreadLink::Endpoint::rx_burst(std::span<PacketPtr> out) {
    reclaim();
    PacketBuffer* burst[64] = {};
    size_t n = inbox_.pop_burst(burst, out.size() < 64 ? out.size() : 64);
    for (size_t k = 0; k < n; ++k) {
        PacketBuffer* p = burst[k];
        // From here this thread frees it: the peer's buffer into the ring back to the
        // peer; one of ours that the peer received and sent back (an ICMP echo reply
        // is the request's buffer) straight into our pool.
        for (PacketBuffer* seg = p; seg; seg = seg->next_segment)
            seg->pool = seg->pool == &peer_->return_pool_ ? &pool_ : &return_pool_;
        out[k] = PacketPtr(p);
    }
    rx_frames_ += n;
    return n;
}

size_t ThreadLink::Endpoint::tx_burst(std::span<PacketPtr> frames) {
    reclaim();
    PacketBuffer* burst[64] = {};
    size_t fit = 0;
    for (; fit < frames.size() && fit < 64; ++fit) {
        if (frames[fit]->chain_length() > size_t{mtu_} + 18) break;  // Ethernet header and one 802.1Q tag
        burst[fit] = frames[fit].get();
    }
    size_t n = peer_->inbox_.push_burst(burst, fit);
    if (n < fit) ++tx_full_events_;
    for (size_t i = 0; i < n; ++i) frames[i].release();
    tx_frames_ += n;
    return n;
}

}  // namespace quasi
