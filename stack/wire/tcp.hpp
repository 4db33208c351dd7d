// TCP headers and options (RFC 9293 3.1, RFC 7323, RFC 2018).
#pragma once

#include "stack/wire/bytes.hpp"
#include "stack/wire/checksum.hpp"
#include "stack/wire/ipv4.hpp"
#include "stack/wire/result.hpp"

#include <array>
#include <span>

namespace quasi {

constexpr size_t kTcpMinHeaderLen = 20;
constexpr size_t kTcpMaxHeaderLen = 60;

namespace tcp_flags {
constexpr uint8_t fin = 0x01;
constexpr uint8_t syn = 0x02;
constexpr uint8_t rst = 0x04;
constexpr uint8_t psh = 0x08;
constexpr uint8_t ack = 0x10;
constexpr uint8_t urg = 0x20;
constexpr uint8_t ece = 0x40;
constexpr uint8_t cwr = 0x80;
}  // namespace tcp_flags

class TcpView {
public:
    explicit TcpView(std::span<uint8_t> bytes) : b_(bytes) {}

    // RFC 9293 3.1: data offset >= 5 and within the segment.
    WireError check() const;

    uint16_t src_port() const { return load_be16(b_.data()); }
    uint16_t dst_port() const { return load_be16(b_.data() + 2); }
    uint32_t seq() const { return load_be32(b_.data() + 4); }
    uint32_t ack() const { return load_be32(b_.data() + 8); }
    size_t header_len() const { return size_t(b_[12] >> 4) * 4; }
    uint8_t flags() const { return b_[13]; }
    uint16_t window() const { return load_be16(b_.data() + 14); }
    uint16_t checksum() const { return load_be16(b_.data() + 16); }
    uint16_t urgent() const { return load_be16(b_.data() + 18); }
    std::span<uint8_t> options() const { return b_.subspan(kTcpMinHeaderLen, header_len() - kTcpMinHeaderLen); }
    std::span<uint8_t> payload() const { return b_.subspan(header_len()); }
    std::span<uint8_t> bytes() const { return b_; }

    bool checksum_ok(Ipv4Addr src, Ipv4Addr dst) const;

private:
    std::span<uint8_t> b_;
};

struct SackBlock {
    uint32_t left = 0;   // first sequence number of the block
    uint32_t right = 0;  // sequence number just past the block
};

// The options TCP understands, parsed from a header. Unknown options are skipped by
// their length; malformed ones (length 0 or 1, or past the end) fail the parse,
// which drops the segment (RFC 9293 MUST-7: never loop on a bad length).
struct TcpOptions {
    static constexpr size_t kMaxSackBlocks = 4;

    bool has_mss = false;
    uint16_t mss = 0;
    bool has_window_scale = false;
    uint8_t window_scale = 0;  // clamped to 14 (RFC 7323 2.3)
    bool sack_permitted = false;
    bool has_timestamps = false;
    uint32_t ts_val = 0;
    uint32_t ts_ecr = 0;
    uint8_t sack_count = 0;
    std::array<SackBlock, kMaxSackBlocks> sacks{};

    static WireError parse(std::span<const uint8_t> options, TcpOptions& out);
    static constexpr size_t kMaxOptionBytes = kTcpMaxHeaderLen - kTcpMinHeaderLen;  // 40
    // Bytes emit() writes, padded to a multiple of 4 and never more than 40: SACK
    // blocks that do not fit are left out.
    size_t emitted_len() const;
    size_t fixed_len() const;
    size_t sack_blocks_emitted() const;
    // Writes the options at p (emitted_len() bytes, NOP-padded).
    void emit(uint8_t* p) const;
};

struct TcpRepr {
    uint16_t src_port = 0;
    uint16_t dst_port = 0;
    uint32_t seq = 0;
    uint32_t ack = 0;
    uint8_t flags = 0;
    uint16_t window = 0;
    uint16_t urgent = 0;
    TcpOptions options;

    static WireError parse(const TcpView& v, TcpRepr& out);
    size_t header_len() const { return kTcpMinHeaderLen + options.emitted_len(); }
    // Writes the header with a zero checksum at p.
    void emit(uint8_t* p) const;
};

}  // namespace quasi
