// The verify mode's window on the wire: a Netif decorator between a device's
// Interface and its port. Passed through, it forwards everything; while capturing,
// it keeps the frames the stack flushes instead of sending them, so the client can
// compare the frame the specialized code built with the generic path's for the same
// send before either leaves (remote_client.cpp). Knows nothing of protocols.
#pragma once

#include "stack/netif.hpp"

#include <array>
#include <cstddef>

namespace quasi::remote {

class VerifyTap final : public Netif {
public:
    static constexpr size_t kMaxCaptured = 8;  // a UDP datagram's fragments, a TCP message's segments

    explicit VerifyTap(Netif& inner) : inner_(inner) {}

    size_t rx_burst(std::span<PacketPtr> out) override { return inner_.rx_burst(out); }
    size_t tx_burst(std::span<PacketPtr> frames) override;
    MacAddr mac() const override { return inner_.mac(); }
    uint16_t mtu() const override { return inner_.mtu(); }
    Offloads offloads() const override { return inner_.offloads(); }
    const char* name() const override { return inner_.name(); }

    void set_capture(bool on) { capturing_ = on; }
    // The frames kept since the last take(); they leave this object.
    size_t take(std::array<PacketPtr, kMaxCaptured>& out);
    // Sends one frame to the port; false (frame dropped) when the port refused it.
    bool forward(PacketPtr frame);

private:
    Netif& inner_;
    bool capturing_ = false;
    std::array<PacketPtr, kMaxCaptured> captured_;
    size_t count_ = 0;
};

}  // namespace quasi::remote
