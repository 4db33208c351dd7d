// The device interface: a small burst API that knows nothing of protocols.
//
// A port moves whole Ethernet frames (no FCS). rx_burst fills buffers taken from
// the pool the port was built with; tx_burst takes ownership of the frames it
// accepts and leaves the rest with the caller, who counts them as dropped: a
// short transmit is normal under load, not an error.
#pragma once

#include "stack/buffer.hpp"
#include "stack/wire/bytes.hpp"

#include <cstddef>
#include <span>

namespace quasi {

struct Offloads {
    bool rx_checksum_verified = false;  // IPv4/UDP/TCP checksums of received frames already checked
    bool tx_checksum = false;           // device completes UDP/TCP checksums of frames marked kMetaTxChecksumPartial
};

class Netif {
public:
    virtual ~Netif() = default;

    // Moves up to out.size() received frames into out[0..n); returns n.
    virtual size_t rx_burst(std::span<PacketPtr> out) = 0;
    // Takes frames[0..n) (n returned, those entries left empty); frames[n..] stay with the caller.
    virtual size_t tx_burst(std::span<PacketPtr> frames) = 0;

    virtual MacAddr mac() const = 0;
    // IP MTU: the largest Ethernet payload the link carries (1500 on Ethernet).
    virtual uint16_t mtu() const = 0;
    virtual Offloads offloads() const { return {}; }
    virtual const char* name() const = 0;
};

}  // namespace quasi
