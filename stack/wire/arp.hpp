// ARP for IPv4 over Ethernet (RFC 826).
#pragma once

#include "stack/wire/bytes.hpp"
#include "stack/wire/result.hpp"

#include <span>

namespace quasi {

constexpr size_t kArpLen = 28;
enum class ArpOp : uint16_t { request = 1, reply = 2 };

class ArpView {
public:
    explicit ArpView(std::span<uint8_t> bytes) : b_(bytes) {}

    // Only Ethernet/IPv4 ARP is meaningful to us; anything else is unsupported.
    WireError check() const {
        if (b_.size() < kArpLen) return Drop::arp_too_short;
        if (hardware_type() != 1 || protocol_type() != 0x0800 || b_[4] != 6 || b_[5] != 4)
            return Drop::arp_unsupported;
        if (operation() != uint16_t(ArpOp::request) && operation() != uint16_t(ArpOp::reply))
            return Drop::arp_bad_opcode;
        return kWireOk;
    }

    uint16_t hardware_type() const { return load_be16(b_.data()); }
    uint16_t protocol_type() const { return load_be16(b_.data() + 2); }
    uint16_t operation() const { return load_be16(b_.data() + 6); }
    MacAddr sender_mac() const { return MacAddr::load(b_.data() + 8); }
    Ipv4Addr sender_ip() const { return Ipv4Addr::load(b_.data() + 14); }
    MacAddr target_mac() const { return MacAddr::load(b_.data() + 18); }
    Ipv4Addr target_ip() const { return Ipv4Addr::load(b_.data() + 24); }

private:
    std::span<uint8_t> b_;
};

struct ArpRepr {
    ArpOp op = ArpOp::request;
    MacAddr sender_mac;
    Ipv4Addr sender_ip;
    MacAddr target_mac;
    Ipv4Addr target_ip;

    static ArpRepr parse(const ArpView& v) {
        return ArpRepr{ArpOp(v.operation()), v.sender_mac(), v.sender_ip(), v.target_mac(), v.target_ip()};
    }
    // Writes kArpLen bytes at p.
    void emit(uint8_t* p) const {
        store_be16(p, 1);
        store_be16(p + 2, 0x0800);
        p[4] = 6;
        p[5] = 4;
        store_be16(p + 6, uint16_t(op));
        sender_mac.store_to(p + 8);
        sender_ip.store_to(p + 14);
        target_mac.store_to(p + 18);
        target_ip.store_to(p + 24);
    }
};

}  // namespace quasi
