// quasi-perf --wire: what one end of the in-memory link sends, by kind of TCP segment,
// so two runs can be compared by what their stacks put on the wire (segments per MB,
// PSH, pure ACKs, window updates) and not only by their rates. A Netif decorator:
// the stack transmits through it to the link's endpoint.
#pragma once

#include "stack/netif.hpp"
#include "stack/wire/ethernet.hpp"
#include "stack/wire/ipv4.hpp"
#include "stack/wire/tcp.hpp"

#include <array>
#include <cstdint>

namespace quasi::perf {

struct WireCounts {
    uint64_t frames = 0;
    uint64_t data_segments = 0;   // TCP segments with payload
    uint64_t payload_bytes = 0;
    uint64_t psh = 0;             // ... of them with PSH set
    uint64_t pure_acks = 0;       // no payload, no SYN/FIN/RST, acknowledging new data
    uint64_t window_updates = 0;  // no payload, the same ACK as the last one, another window
};

class WireTally final : public Netif {
public:
    explicit WireTally(Netif& inner) : inner_(inner) {}

    size_t rx_burst(std::span<PacketPtr> out) override { return inner_.rx_burst(out); }
    // Counts the frames the link took (the rest stay with the stack, which drops them).
    size_t tx_burst(std::span<PacketPtr> frames) override {
        std::array<const PacketBuffer*, 64> seen{};
        size_t k = frames.size() < seen.size() ? frames.size() : seen.size();
        for (size_t i = 0; i < k; ++i) seen[i] = frames[i].get();
        size_t n = inner_.tx_burst(frames);
        for (size_t i = 0; i < n && i < k; ++i) count(*seen[i]);  // still alive: now in the link
        return n;
    }
    MacAddr mac() const override { return inner_.mac(); }
    uint16_t mtu() const override { return inner_.mtu(); }
    Offloads offloads() const override { return inner_.offloads(); }
    const char* name() const override { return inner_.name(); }

    const WireCounts& counts() const { return counts_; }

private:
    // The frame's first segment holds its headers (the stack writes them there).
    void count(const PacketBuffer& frame) {
        ++counts_.frames;
        std::span<const uint8_t> b = frame.bytes();
        if (b.size() < kEthernetHeaderLen + kIpv4MinHeaderLen + kTcpMinHeaderLen) return;
        if (load_be16(b.data() + 12) != uint16_t(EtherType::ipv4)) return;
        const uint8_t* ip = b.data() + kEthernetHeaderLen;
        size_t ip_header = size_t(ip[0] & 0x0F) * 4;
        if (ip[9] != uint8_t(IpProtocol::tcp) || kEthernetHeaderLen + ip_header + kTcpMinHeaderLen > b.size()) return;
        const uint8_t* tcp = ip + ip_header;
        size_t tcp_header = size_t(tcp[12] >> 4) * 4;
        size_t ip_total = load_be16(ip + 2);
        size_t payload = ip_total > ip_header + tcp_header ? ip_total - ip_header - tcp_header : 0;
        uint8_t flags = tcp[13];
        uint32_t ack = load_be32(tcp + 8);
        uint16_t window = load_be16(tcp + 14);
        if (payload > 0) {
            ++counts_.data_segments;
            counts_.payload_bytes += payload;
            if (flags & tcp_flags::psh) ++counts_.psh;
        } else if (!(flags & (tcp_flags::syn | tcp_flags::fin | tcp_flags::rst)) && (flags & tcp_flags::ack)) {
            if (have_last_ && ack == last_ack_ && window != last_window_)
                ++counts_.window_updates;
            else
                ++counts_.pure_acks;
        }
        if (flags & tcp_flags::ack) have_last_ = true, last_ack_ = ack, last_window_ = window;
    }

    Netif& inner_;
    WireCounts counts_;
    bool have_last_ = false;
    uint32_t last_ack_ = 0;
    uint16_t last_window_ = 0;
};

}  // namespace quasi::perf
