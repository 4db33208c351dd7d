// Ethernet II frames with optional 802.1Q tags (IEEE 802.3 / 802.1Q).
#pragma once

#include "stack/wire/bytes.hpp"
#include "stack/wire/result.hpp"

#include <span>

namespace quasi {

enum class EtherType : uint16_t { ipv4 = 0x0800, arp = 0x0806, vlan = 0x8100, ipv6 = 0x86DD };

constexpr size_t kEthernetHeaderLen = 14;
constexpr size_t kVlanTagLen = 4;

class EthernetView {
public:
    explicit EthernetView(std::span<uint8_t> bytes) : b_(bytes) {}

    // Needs 14 bytes, or 18 when the frame carries an 802.1Q tag.
    WireError check() const {
        if (b_.size() < kEthernetHeaderLen) return Drop::eth_too_short;
        if (load_be16(b_.data() + 12) == uint16_t(EtherType::vlan) &&
            b_.size() < kEthernetHeaderLen + kVlanTagLen)
            return Drop::eth_too_short;
        return kWireOk;
    }

    MacAddr dst() const { return MacAddr::load(b_.data()); }
    MacAddr src() const { return MacAddr::load(b_.data() + 6); }
    bool has_vlan() const { return load_be16(b_.data() + 12) == uint16_t(EtherType::vlan); }
    // Tag control information (PCP, DEI, VID) when has_vlan().
    uint16_t vlan_tci() const { return load_be16(b_.data() + 14); }
    uint16_t ethertype() const { return load_be16(b_.data() + (has_vlan() ? 16 : 12)); }
    size_t header_len() const { return has_vlan() ? kEthernetHeaderLen + kVlanTagLen : kEthernetHeaderLen; }
    std::span<uint8_t> payload() const { return b_.subspan(header_len()); }

    void set_dst(const MacAddr& m) { m.store_to(b_.data()); }
    void set_src(const MacAddr& m) { m.store_to(b_.data() + 6); }

private:
    std::span<uint8_t> b_;
};

struct EthernetRepr {
    MacAddr dst;
    MacAddr src;
    uint16_t ethertype = 0;
    bool vlan = false;
    uint16_t vlan_tci = 0;

    static EthernetRepr parse(const EthernetView& v) {
        return EthernetRepr{v.dst(), v.src(), v.ethertype(), v.has_vlan(), v.has_vlan() ? v.vlan_tci() : uint16_t{0}};
    }
    size_t header_len() const { return vlan ? kEthernetHeaderLen + kVlanTagLen : kEthernetHeaderLen; }
    // Writes header_len() bytes at p.
    void emit(uint8_t* p) const {
        dst.store_to(p);
        src.store_to(p + 6);
        if (vlan) {
            store_be16(p + 12, uint16_t(EtherType::vlan));
            store_be16(p + 14, vlan_tci);
            store_be16(p + 16, ethertype);
        } else {
            store_be16(p + 12, ethertype);
        }
    }
};

}  // namespace quasi
