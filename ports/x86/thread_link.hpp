// An in-memory Ethernet link between two stacks on two threads: MemLink's
// counterpart for a receiver on another CPU, as netperf measures a sender whose peer
// runs elsewhere.
//
// Each direction is a bounded single-producer single-consumer ring of frames (the
// sending stack's thread pushes in tx_burst, the receiving stack's thread pops in
// rx_burst). Frames move without a copy, as a NIC's DMA would hand them over; but a
// BufferPool is not thread-safe, so a frame must go back to its own pool on its own
// thread. The receiving end therefore re-points every segment it hands to its stack
// at a pool over ReturnSource, whose give_back pushes the segment onto a second SPSC
// ring back to the sender; the sender's end drains that ring (in rx_burst and
// tx_burst) into its pool. A buffer the receiver sends back (a reply built in the
// request's buffer) is home again when it arrives and goes straight to its pool. Each endpoint must be used by one thread at a time (setup
// on one thread, then each end on its own, is fine: the thread start orders them).
#pragma once

#include "ports/x86/mem_link.hpp"
#include "stack/buffer.hpp"
#include "stack/netif.hpp"
#include "stack/wire/bytes.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace quasi {

// A bounded lock-free ring with one producer thread and one consumer thread.
class SpscPointerRing {
public:
    explicit SpscPointerRing(size_t capacity);  // rounded up to a power of two
    bool push(PacketBuffer* p);                  // producer; false when full
    PacketBuffer* pop();                         // consumer; null when empty
    // Bursts publish their index once, so the line the other thread reads moves once
    // per burst, not per frame. Return how many were taken.
    size_t push_burst(PacketBuffer* const* items, size_t n);  // producer
    size_t pop_burst(PacketBuffer** out, size_t n);           // consumer
    size_t capacity() const { return mask_ + 1; }

private:
    std::unique_ptr<PacketBuffer*[]> slots_;
    size_t mask_;
    // Each index on its own cache line, with the other side's last seen value beside
    // it, so an uncontended push or pop touches no line the other thread writes.
    alignas(64) std::atomic<size_t> head_{0};  // written by the consumer
    size_t tail_seen_ = 0;                     // consumer's copy of tail_
    alignas(64) std::atomic<size_t> tail_{0};  // written by the producer
    size_t head_seen_ = 0;                     // producer's copy of head_
};

class ThreadLink {
public:
    using Config = LinkPairConfig;

    class Endpoint final : public Netif {
    public:
        Endpoint(const Endpoint&) = delete;
        Endpoint& operator=(const Endpoint&) = delete;

        size_t rx_burst(std::span<PacketPtr> out) override;
        // Stops at the first frame that is oversize or finds the peer's ring full.
        size_t tx_burst(std::span<PacketPtr> frames) override;
        MacAddr mac() const override { return mac_; }
        uint16_t mtu() const override { return mtu_; }
        const char* name() const override { return name_; }

        uint64_t tx_frames() const { return tx_frames_; }
        uint64_t rx_frames() const { return rx_frames_; }
        uint64_t tx_full_events() const { return tx_full_events_; }  // bursts cut short by a full ring

    private:
        friend class ThreadLink;
        // The pool the peer's thread frees this end's frames into: each segment goes
        // onto returns_ for this end's thread to put back into its own pool.
        class ReturnSource final : public BufferSource {
        public:
            PacketBuffer* take() override { return nullptr; }  // never allocates
            void give_back(PacketBuffer* single) override;
            size_t available() const override { return 0; }
            size_t capacity() const override { return 0; }

            SpscPointerRing* ring = nullptr;  // the peer's returns_
        };

        Endpoint(const char* name, MacAddr mac, uint16_t mtu, size_t queue_frames, BufferPool& pool);
        void reclaim();  // returns_ into pool_, on this end's thread

        const char* name_;
        MacAddr mac_;
        uint16_t mtu_;
        BufferPool& pool_;            // where this end's stack allocates its frames
        Endpoint* peer_ = nullptr;
        SpscPointerRing inbox_;       // frames from the peer
        SpscPointerRing returns_;     // this end's buffers, freed by the peer's thread
        ReturnSource return_source_;  // pushes onto the peer's returns_ (set by ThreadLink)
        BufferPool return_pool_;      // the frames from the peer point at this once received
        uint64_t tx_frames_ = 0, rx_frames_ = 0, tx_full_events_ = 0;
    };

    // pool_a / pool_b: the pools the stacks on ends a and b allocate from; they must
    // outlive the link, and the stacks must be gone before it.
    ThreadLink(BufferPool& pool_a, BufferPool& pool_b, const Config& config);
    ~ThreadLink();
    ThreadLink(const ThreadLink&) = delete;
    ThreadLink& operator=(const ThreadLink&) = delete;

    Endpoint& a() { return a_; }
    Endpoint& b() { return b_; }

private:
    Endpoint a_;
    Endpoint b_;
};

}  // namespace quasi
