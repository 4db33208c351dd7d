// An in-memory Ethernet link: two Netif endpoints joined back to back, for running
// two stacks in one process (tests, simulations, benchmarks without a kernel).
//
// Single-threaded by design: the owner polls the two stacks alternately, so the
// queues need no locking. A transmitted frame is moved, not copied, into the
// peer's bounded FIFO; the peer's rx_burst hands the very same buffer (chained
// frames stay chained) to the other stack, which later frees it into the
// sender's pool. Both stacks must therefore outlive every frame in flight, and
// the pools must outlive the link.
#pragma once

#include "stack/buffer.hpp"
#include "stack/netif.hpp"
#include "stack/wire/bytes.hpp"

#include <cstddef>
#include <cstdint>
#include <span>

namespace quasi {

// A pair of joined ends, in one thread (MemLink) or across two (ThreadLink).
struct LinkPairConfig {
    uint16_t mtu = 1500;         // IP MTU of both ends
    size_t queue_frames = 1024;  // frames queued per direction (MemLink's FIFO, ThreadLink's ring)
    MacAddr mac_a{{0x02, 0x00, 0x00, 0x00, 0x00, 0x0a}};  // locally administered
    MacAddr mac_b{{0x02, 0x00, 0x00, 0x00, 0x00, 0x0b}};
};

class MemLink {
public:
    using Config = LinkPairConfig;

    // One end of the link. Frames sent here are received at the peer.
    class Endpoint final : public Netif {
    public:
        Endpoint(const Endpoint&) = delete;
        Endpoint& operator=(const Endpoint&) = delete;

        size_t rx_burst(std::span<PacketPtr> out) override;
        // Stops at the first frame that is oversize or finds the peer's FIFO full.
        size_t tx_burst(std::span<PacketPtr> frames) override;
        MacAddr mac() const override { return mac_; }
        uint16_t mtu() const override { return mtu_; }
        const char* name() const override { return name_; }

        uint64_t tx_frames() const { return tx_frames_; }
        uint64_t rx_frames() const { return rx_frames_; }
        // tx_burst calls cut short because the peer's FIFO was full.
        uint64_t tx_full_events() const { return tx_full_events_; }
        // Frames refused for being longer than max_frame_length().
        uint64_t tx_oversize() const { return tx_oversize_; }
        // Frames waiting in this end's receive FIFO.
        size_t rx_pending() const { return inbox_.size(); }
        // mtu + 14 (Ethernet header) + 4 (one 802.1Q tag); frames carry no FCS.
        size_t max_frame_length() const { return size_t{mtu_} + 18; }

    private:
        friend class MemLink;
        Endpoint(const char* name, MacAddr mac, uint16_t mtu, size_t queue_frames)
            : name_(name), mac_(mac), mtu_(mtu), queue_frames_(queue_frames) {}

        const char* name_;
        MacAddr mac_;
        uint16_t mtu_;
        size_t queue_frames_;
        Endpoint* peer_ = nullptr;
        PacketQueue inbox_;
        uint64_t tx_frames_ = 0;
        uint64_t rx_frames_ = 0;
        uint64_t tx_full_events_ = 0;
        uint64_t tx_oversize_ = 0;
    };

    MemLink();
    explicit MemLink(const Config& config);
    // Endpoints point at each other: the link stays where it was built.
    MemLink(const MemLink&) = delete;
    MemLink& operator=(const MemLink&) = delete;

    Endpoint& a() { return a_; }
    Endpoint& b() { return b_; }

private:
    Endpoint a_;
    Endpoint b_;
};

}  // namespace quasi
