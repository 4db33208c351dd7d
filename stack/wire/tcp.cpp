#include "stack/wire/tcp.hpp"

namespace quasi {

namespace {
enum : uint8_t {
    kOptEnd = 0,
    kOptNop = 1,
    kOptMss = 2,
    kOptWindowScale = 3,
    kOptSackPermitted = 4,
    kOptSack = 5,
    kOptTimestamps = 8,
};
constexpr uint8_t kMaxWindowScale = 14;
constexpr uint32_t kAlignedTimestamp = uint32_t{kOptNop} << 24 | uint32_t{kOptNop} << 16 | uint32_t{kOptTimestamps} << 8 | 10;
}  // namespace

WireError TcpView::check() const {
    if (b_.size() < kTcpMinHeaderLen) return Drop::tcp_too_short;
    if (header_len() < kTcpMinHeaderLen || header_len() > b_.size()) return Drop::tcp_bad_data_offset;
    return kWireOk;
}

bool TcpView::checksum_ok(Ipv4Addr src, Ipv4Addr dst) const {
    ChecksumAccumulator acc;
    add_pseudo_header(acc, src, dst, uint8_t(IpProtocol::tcp), static_cast<uint16_t>(b_.size()));
    acc.add(b_);
    return acc.folded() == 0xFFFF;
}

WireError TcpOptions::parse(std::span<const uint8_t> opts, TcpOptions& out) {
    out = TcpOptions{};
    // RFC 7323 appendix A's layout, NOP NOP TS (what Linux and quasi put on every
    // segment once timestamps are on), read at once as Linux's
    // tcp_parse_aligned_timestamp does; anything else takes the loop.
    if (opts.size() == 12 && load_be32(opts.data()) == kAlignedTimestamp) {
        out.has_timestamps = true;
        out.ts_val = load_be32(opts.data() + 4);
        out.ts_ecr = load_be32(opts.data() + 8);
        return kWireOk;
    }
    size_t i = 0;
    while (i < opts.size()) {
        uint8_t kind = opts[i];
        if (kind == kOptEnd) break;
        if (kind == kOptNop) {
            ++i;
            continue;
        }
        if (i + 1 >= opts.size()) return Drop::tcp_bad_option;
        size_t len = opts[i + 1];
        if (len < 2 || i + len > opts.size()) return Drop::tcp_bad_option;
        const uint8_t* p = opts.data() + i + 2;
        switch (kind) {
        case kOptMss:
            if (len != 4) return Drop::tcp_bad_option;
            out.has_mss = true;
            out.mss = load_be16(p);
            break;
        case kOptWindowScale:
            if (len != 3) return Drop::tcp_bad_option;
            out.has_window_scale = true;
            out.window_scale = p[0] > kMaxWindowScale ? kMaxWindowScale : p[0];
            break;
        case kOptSackPermitted:
            if (len != 2) return Drop::tcp_bad_option;
            out.sack_permitted = true;
            break;
        case kOptSack: {
            if ((len - 2) % 8 != 0) return Drop::tcp_bad_option;
            size_t blocks = (len - 2) / 8;
            for (size_t k = 0; k < blocks && out.sack_count < kMaxSackBlocks; ++k) {
                out.sacks[out.sack_count++] = SackBlock{load_be32(p + 8 * k), load_be32(p + 8 * k + 4)};
            }
            break;
        }
        case kOptTimestamps:
            if (len != 10) return Drop::tcp_bad_option;
            out.has_timestamps = true;
            out.ts_val = load_be32(p);
            out.ts_ecr = load_be32(p + 4);
            break;
        default:
            break;  // unknown options are skipped by their length (RFC 9293 3.2)
        }
        i += len;
    }
    return kWireOk;
}

// Option bytes other than SACK blocks.
size_t TcpOptions::fixed_len() const {
    size_t n = 0;
    if (has_mss) n += 4;
    if (has_window_scale) n += 4;                   // NOP + 3
    if (sack_permitted && !has_timestamps) n += 4;  // NOP NOP + 2
    if (has_timestamps) n += 12;                    // (SACK-permitted | NOP NOP) + 10
    return n;
}

// SACK blocks that fit in the 40 option bytes left by the others (RFC 2018 3).
size_t TcpOptions::sack_blocks_emitted() const {
    size_t room = kMaxOptionBytes - fixed_len();
    size_t fit = room >= 4 ? (room - 4) / 8 : 0;
    return sack_count < fit ? sack_count : fit;
}

size_t TcpOptions::emitted_len() const {
    size_t blocks = sack_blocks_emitted();
    return fixed_len() + (blocks ? 4 + 8 * blocks : 0);  // NOP NOP + 2 + blocks
}

void TcpOptions::emit(uint8_t* p) const {
    if (has_mss) {
        p[0] = kOptMss;
        p[1] = 4;
        store_be16(p + 2, mss);
        p += 4;
    }
    if (has_window_scale) {
        p[0] = kOptNop;
        p[1] = kOptWindowScale;
        p[2] = 3;
        p[3] = window_scale;
        p += 4;
    }
    if (has_timestamps) {
        // SACK-permitted shares the timestamp option's alignment padding, as Linux does.
        if (sack_permitted) {
            p[0] = kOptSackPermitted;
            p[1] = 2;
        } else {
            p[0] = kOptNop;
            p[1] = kOptNop;
        }
        p[2] = kOptTimestamps;
        p[3] = 10;
        store_be32(p + 4, ts_val);
        store_be32(p + 8, ts_ecr);
        p += 12;
    } else if (sack_permitted) {
        p[0] = kOptNop;
        p[1] = kOptNop;
        p[2] = kOptSackPermitted;
        p[3] = 2;
        p += 4;
    }
    if (size_t blocks = sack_blocks_emitted()) {
        p[0] = kOptNop;
        p[1] = kOptNop;
        p[2] = kOptSack;
        p[3] = static_cast<uint8_t>(2 + 8 * blocks);
        p += 4;
        for (size_t k = 0; k < blocks; ++k) {
            store_be32(p, sacks[k].left);
            store_be32(p + 4, sacks[k].right);
            p += 8;
        }
    }
}

WireError TcpRepr::parse(const TcpView& v, TcpRepr& out) {
    out.src_port = v.src_port();
    out.dst_port = v.dst_port();
    out.seq = v.seq();
    out.ack = v.ack();
    out.flags = v.flags();
    out.window = v.window();
    out.urgent = v.urgent();
    return TcpOptions::parse(v.options(), out.options);
}

void TcpRepr::emit(uint8_t* p) const {
    store_be16(p, src_port);
    store_be16(p + 2, dst_port);
    store_be32(p + 4, seq);
    store_be32(p + 8, ack);
    p[12] = static_cast<uint8_t>((header_len() / 4) << 4);
    p[13] = flags;
    store_be16(p + 14, window);
    store_be16(p + 16, 0);
    store_be16(p + 18, urgent);
    options.emit(p + kTcpMinHeaderLen);
}

}  // namespace quasi
