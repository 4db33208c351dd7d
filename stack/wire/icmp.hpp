// ICMP for IPv4 (RFC 792, RFC 1191 for fragmentation-needed).
#pragma once

#include "stack/wire/bytes.hpp"
#include "stack/wire/checksum.hpp"
#include "stack/wire/result.hpp"

#include <span>

namespace quasi {

constexpr size_t kIcmpHeaderLen = 8;

enum class IcmpType : uint8_t {
    echo_reply = 0,
    dest_unreachable = 3,
    source_quench = 4,
    redirect = 5,
    echo_request = 8,
    time_exceeded = 11,
    parameter_problem = 12,
};

enum class IcmpUnreachCode : uint8_t {
    net = 0,
    host = 1,
    protocol = 2,
    port = 3,
    frag_needed = 4,
    source_route_failed = 5,
};

constexpr bool is_icmp_error(uint8_t type) {
    return type == uint8_t(IcmpType::dest_unreachable) || type == uint8_t(IcmpType::source_quench) ||
           type == uint8_t(IcmpType::redirect) || type == uint8_t(IcmpType::time_exceeded) ||
           type == uint8_t(IcmpType::parameter_problem);
}

class IcmpView {
public:
    explicit IcmpView(std::span<uint8_t> bytes) : b_(bytes) {}

    WireError check() const {
        if (b_.size() < kIcmpHeaderLen) return Drop::icmp_too_short;
        return kWireOk;
    }

    uint8_t type() const { return b_[0]; }
    uint8_t code() const { return b_[1]; }
    uint16_t checksum() const { return load_be16(b_.data() + 2); }
    bool checksum_ok() const {
        ChecksumAccumulator acc;
        acc.add(b_);
        return acc.folded() == 0xFFFF;
    }
    // Echo request/reply fields.
    uint16_t echo_ident() const { return load_be16(b_.data() + 4); }
    uint16_t echo_seq() const { return load_be16(b_.data() + 6); }
    // Next-hop MTU of a fragmentation-needed message (RFC 1191 4); 0 from old routers.
    uint16_t next_hop_mtu() const { return load_be16(b_.data() + 6); }
    // After the 8-byte header: echo data, or the offending datagram's header + 8 bytes.
    std::span<uint8_t> body() const { return b_.subspan(kIcmpHeaderLen); }
    std::span<uint8_t> bytes() const { return b_; }

    void set_type(uint8_t t) { b_[0] = t; }
    void set_code(uint8_t c) { b_[1] = c; }
    void set_rest(uint32_t rest) { store_be32(b_.data() + 4, rest); }
    void fill_checksum() {
        store_be16(b_.data() + 2, 0);
        store_be16(b_.data() + 2, internet_checksum(b_));
    }

private:
    std::span<uint8_t> b_;
};

}  // namespace quasi
