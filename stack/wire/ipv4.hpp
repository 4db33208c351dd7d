// IPv4 headers (RFC 791, RFC 1122 3.2.1).
#pragma once

#include "stack/wire/bytes.hpp"
#include "stack/wire/checksum.hpp"
#include "stack/wire/result.hpp"

#include <span>

namespace quasi {

constexpr size_t kIpv4MinHeaderLen = 20;
constexpr size_t kIpv4MaxDatagram = 65535;
enum class IpProtocol : uint8_t { icmp = 1, tcp = 6, udp = 17 };

constexpr uint16_t kIpv4FlagDf = 0x4000;
constexpr uint16_t kIpv4FlagMf = 0x2000;
constexpr uint16_t kIpv4FragOffsetMask = 0x1FFF;

class Ipv4View {
public:
    explicit Ipv4View(std::span<uint8_t> bytes) : b_(bytes) {}

    // Structural checks only (RFC 1122 3.2.1.1-2 "silently discard"); the checksum
    // and address checks belong to Ipv4Repr::parse.
    WireError check() const {
        if (b_.size() < kIpv4MinHeaderLen) return Drop::ipv4_too_short;
        if (version() != 4) return Drop::ipv4_bad_version;
        if (header_len() < kIpv4MinHeaderLen || header_len() > b_.size()) return Drop::ipv4_bad_header_length;
        if (total_len() < header_len() || total_len() > b_.size()) return Drop::ipv4_bad_total_length;
        return kWireOk;
    }

    uint8_t version() const { return b_[0] >> 4; }
    size_t header_len() const { return size_t(b_[0] & 0x0F) * 4; }
    uint8_t tos() const { return b_[1]; }
    uint16_t total_len() const { return load_be16(b_.data() + 2); }
    uint16_t ident() const { return load_be16(b_.data() + 4); }
    uint16_t flags_fragment() const { return load_be16(b_.data() + 6); }
    bool dont_fragment() const { return flags_fragment() & kIpv4FlagDf; }
    bool more_fragments() const { return flags_fragment() & kIpv4FlagMf; }
    // Offset of this fragment's data in bytes.
    size_t fragment_offset() const { return size_t(flags_fragment() & kIpv4FragOffsetMask) * 8; }
    bool is_fragment() const { return more_fragments() || fragment_offset() != 0; }
    uint8_t ttl() const { return b_[8]; }
    uint8_t protocol() const { return b_[9]; }
    uint16_t checksum() const { return load_be16(b_.data() + 10); }
    Ipv4Addr src() const { return Ipv4Addr::load(b_.data() + 12); }
    Ipv4Addr dst() const { return Ipv4Addr::load(b_.data() + 16); }
    bool checksum_ok() const { return words_sum_to_ones(b_.data(), header_len()); }
    std::span<uint8_t> header() const { return b_.first(header_len()); }
    // The payload as the header declares it: link padding is cut off here.
    std::span<uint8_t> payload() const { return b_.subspan(header_len(), total_len() - header_len()); }

    void set_ttl(uint8_t ttl) { b_[8] = ttl; }
    void set_total_len(uint16_t len) { store_be16(b_.data() + 2, len); }
    void set_flags_fragment(uint16_t v) { store_be16(b_.data() + 6, v); }
    void set_src(Ipv4Addr a) { a.store_to(b_.data() + 12); }
    void set_dst(Ipv4Addr a) { a.store_to(b_.data() + 16); }
    void fill_checksum() {
        store_be16(b_.data() + 10, 0);
        store_be16(b_.data() + 10, internet_checksum(b_.first(header_len())));
    }

private:
    std::span<uint8_t> b_;
};

struct Ipv4Repr {
    Ipv4Addr src;
    Ipv4Addr dst;
    uint8_t protocol = 0;
    uint8_t ttl = 64;
    uint8_t tos = 0;
    uint16_t ident = 0;
    bool dont_fragment = false;
    bool more_fragments = false;
    uint16_t fragment_offset = 0;  // bytes, a multiple of 8
    uint16_t payload_len = 0;

    // Semantic checks of a structurally valid header. With `verify_checksum` false
    // (the device already verified it) the checksum is trusted.
    static WireError parse(const Ipv4View& v, Ipv4Repr& out, bool verify_checksum = true) {
        if (verify_checksum && !v.checksum_ok()) return Drop::ipv4_bad_checksum;
        out.src = v.src();
        out.dst = v.dst();
        if (out.src.is_invalid_source()) return Drop::ipv4_bad_source;
        out.protocol = v.protocol();
        out.ttl = v.ttl();
        out.tos = v.tos();
        out.ident = v.ident();
        out.dont_fragment = v.dont_fragment();
        out.more_fragments = v.more_fragments();
        out.fragment_offset = static_cast<uint16_t>(v.fragment_offset());
        out.payload_len = static_cast<uint16_t>(v.total_len() - v.header_len());
        return kWireOk;
    }

    static constexpr size_t header_len() { return kIpv4MinHeaderLen; }
    size_t buffer_len() const { return header_len() + payload_len; }

    // Writes a 20-byte header (no options) with its checksum at p.
    void emit(uint8_t* p) const {
        p[0] = 0x45;
        p[1] = tos;
        store_be16(p + 2, static_cast<uint16_t>(header_len() + payload_len));
        store_be16(p + 4, ident);
        uint16_t ff = static_cast<uint16_t>(fragment_offset / 8);
        if (dont_fragment) ff |= kIpv4FlagDf;
        if (more_fragments) ff |= kIpv4FlagMf;
        store_be16(p + 6, ff);
        p[8] = ttl;
        p[9] = protocol;
        src.store_to(p + 12);
        dst.store_to(p + 16);
        // Summed from the fields, not the bytes: no loop, and what a specialized
        // path knows (addresses, TTL, protocol, flags) folds into one constant.
        ChecksumAccumulator acc;
        acc.add16(static_cast<uint16_t>(0x4500 | tos));
        acc.add16(static_cast<uint16_t>(header_len() + payload_len));
        acc.add16(ident);
        acc.add16(ff);
        acc.add16(static_cast<uint16_t>(ttl << 8 | protocol));
        acc.add32(src.value);
        acc.add32(dst.value);
        store_be16(p + 10, acc.finish());
    }
};

}  // namespace quasi
