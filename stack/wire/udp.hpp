// UDP headers (RFC 768; checksum rules of RFC 1122 4.1.3.4).
#pragma once

#include "stack/wire/bytes.hpp"
#include "stack/wire/checksum.hpp"
#include "stack/wire/ipv4.hpp"
#include "stack/wire/result.hpp"

#include <span>

namespace quasi {

constexpr size_t kUdpHeaderLen = 8;

class UdpView {
public:
    explicit UdpView(std::span<uint8_t> bytes) : b_(bytes) {}

    // The length field must cover the header and fit the IP payload; bytes after it
    // are ignored (the IP payload may be longer, never shorter).
    WireError check() const {
        if (b_.size() < kUdpHeaderLen) return Drop::udp_too_short;
        if (length() < kUdpHeaderLen || length() > b_.size()) return Drop::udp_bad_length;
        return kWireOk;
    }

    uint16_t src_port() const { return load_be16(b_.data()); }
    uint16_t dst_port() const { return load_be16(b_.data() + 2); }
    uint16_t length() const { return load_be16(b_.data() + 4); }
    uint16_t checksum() const { return load_be16(b_.data() + 6); }
    std::span<uint8_t> payload() const { return b_.subspan(kUdpHeaderLen, length() - kUdpHeaderLen); }

    // A zero checksum means "not computed" and is accepted (RFC 768).
    bool checksum_ok(Ipv4Addr src, Ipv4Addr dst) const {
        if (checksum() == 0) return true;
        ChecksumAccumulator acc;
        add_pseudo_header(acc, src, dst, uint8_t(IpProtocol::udp), length());
        acc.add(b_.data(), length());
        return acc.folded() == 0xFFFF;
    }

private:
    std::span<uint8_t> b_;
};

struct UdpRepr {
    uint16_t src_port = 0;
    uint16_t dst_port = 0;
    uint16_t payload_len = 0;

    static constexpr size_t header_len() { return kUdpHeaderLen; }
    size_t buffer_len() const { return kUdpHeaderLen + payload_len; }

    // Writes the header with a zero checksum field at p.
    void emit(uint8_t* p) const {
        store_be16(p, src_port);
        store_be16(p + 2, dst_port);
        store_be16(p + 4, static_cast<uint16_t>(buffer_len()));
        store_be16(p + 6, 0);
    }

    // The checksum to store for a datagram whose payload sum is in acc (RFC 768:
    // a computed 0 is sent as 0xFFFF, since 0 means "no checksum").
    static uint16_t finish_checksum(ChecksumAccumulator acc) {
        uint16_t c = acc.finish();
        return c == 0 ? 0xFFFF : c;
    }
};

}  // namespace quasi
