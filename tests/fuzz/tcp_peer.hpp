// The peer of tcp_fuzzer (198.18.0.1): what it knows of each connection from the
// stack's segments on the wire, and the frames it sends (TCP segments from a
// SegmentRecord, ICMP errors about a connection).
#pragma once

#include "tcp_invariants.hpp"
#include "tcp_records.hpp"

#include "stack/tcp.hpp"
#include "stack/tcp_seq.hpp"
#include "stack/wire/checksum.hpp"
#include "stack/wire/ethernet.hpp"
#include "stack/wire/icmp.hpp"
#include "stack/wire/ipv4.hpp"
#include "stack/wire/tcp.hpp"

#include <algorithm>
#include <array>
#include <span>

namespace quasi::fuzz {

constexpr size_t kPeerFrameRoom = 1600;
using PeerFrame = std::array<uint8_t, kPeerFrameRoom>;

// The peer's ISN per slot; slot 3's wraps around 2^32 within its first 4 KB.
inline uint32_t peer_isn(size_t slot) {
    return slot == 3 ? 0xFFFFF000u : uint32_t(slot + 1) * 0x1F000000u + 0x1000u;
}

// What the peer on one slot knows: its own sequence numbers, and what it saw of the
// stack's on the wire.
struct Slot {
    int fd = -1;              // the application's descriptor for this slot's connection
    uint16_t stack_port = 0;  // active slots: the port the stack connected from
    uint32_t peer_next = 0;   // one past the highest sequence number the peer sent
    bool seen_syn = false;    // a SYN from the stack (its ISN) since the last reset
    uint32_t stack_iss = 0;
    uint32_t stack_next = 0;   // one past the highest sequence number the stack sent
    uint32_t stack_tsval = 0;  // the stack's latest TSval, echoed in TSecr

    // Takes in a segment the stack sent to this slot (not a RST).
    void learn(const SentSegment& seg) {
        const uint32_t end = seg.h.seq + seg.seg_len();
        if (seg.has(tcp_flags::syn)) {  // a new incarnation, or the same SYN again
            seen_syn = true;
            stack_iss = seg.h.seq;
            stack_next = end;
        } else if (!seen_syn || seq_gt(end, stack_next)) {
            stack_next = end;
        }
        if (seg.h.options.has_timestamps) stack_tsval = seg.h.options.ts_val;
    }
};

// The sequence and acknowledgment numbers a record asks for (tcp_records.hpp, bases).
inline uint32_t record_seq(const SegmentRecord& r, const Slot& slot, const TcpSocket* s, uint32_t isn) {
    const bool has_rcv = s && s->state != TcpState::syn_sent;
    uint32_t seq = 0;
    switch (r.bases & 3) {
        case seg_bases::seq_rcv_nxt: seq = has_rcv ? s->rcv_nxt : isn; break;
        case seg_bases::seq_isn: seq = isn; break;
        case seg_bases::seq_right_edge: seq = has_rcv ? s->rcv_nxt + s->receive_window() : isn; break;
        default: seq = slot.peer_next; break;
    }
    return seq + static_cast<uint32_t>(int32_t{r.seq_offset});
}

inline uint32_t record_ack(const SegmentRecord& r, const Slot& slot, const TcpSocket* s) {
    uint32_t ack = slot.stack_next;
    switch (r.bases & 0x0C) {
        case seg_bases::ack_snd_max: ack = s ? s->snd_max : ack; break;
        case seg_bases::ack_snd_una: ack = s ? s->snd_una : ack; break;
        case seg_bases::ack_seen: break;
        default: ack = s ? s->iss + 1 : ack; break;
    }
    return ack + static_cast<uint32_t>(int32_t{r.ack_offset});
}

// The options a record asks for; the peer's TSval clock runs in milliseconds.
inline TcpOptions record_options(const SegmentRecord& r, const Slot& slot, const TcpSocket* s, TimeNs now) {
    using namespace seg_options;
    TcpOptions o;
    o.has_mss = r.options & mss;
    o.mss = r.mss;
    o.has_window_scale = r.options & window_scale;
    o.window_scale = r.window_scale;
    o.sack_permitted = r.options & sack_permitted;
    o.has_timestamps = r.options & timestamps;
    o.ts_val = static_cast<uint32_t>(now / kMillisecond) + 1000 + static_cast<uint32_t>(r.ts_offset * 8);
    o.ts_ecr = (r.options & ts_ecr_zero) ? 0 : slot.stack_tsval;
    const uint32_t sack_base = s ? s->snd_una : slot.stack_next;
    for (size_t i = 0; i < r.sack_count; ++i) {
        const uint32_t left = sack_base + static_cast<uint32_t>(int32_t{r.sacks[i].left});
        o.sacks[o.sack_count++] = SackBlock{left, left + r.sacks[i].length};
    }
    return o;
}

inline void emit_peer_headers(PeerFrame& frame, uint8_t protocol, uint16_t payload_len, uint16_t ident, bool df) {
    Ipv4Repr{.src = kTcpPeerAddress,
             .dst = kTcpOurAddress,
             .protocol = protocol,
             .ttl = 64,
             .ident = ident,
             .dont_fragment = df,
             .payload_len = payload_len}
        .emit(frame.data() + kEthernetHeaderLen);
    EthernetRepr{kTcpOurMac, kTcpPeerMac, uint16_t(EtherType::ipv4)}.emit(frame.data());
}

// Ethernet, IPv4 (20 bytes, DF), the TCP header with its options, then `raw` option
// bytes (EOL-padded to a 32-bit boundary, 40 option bytes at most), then a payload
// of at most `payload_len` bytes that fits a 1500-byte MTU, each byte peer_byte() of
// its sequence number. Returns the frame length; `payload` gets the payload length.
inline size_t emit_peer_segment(const TcpRepr& h, std::span<const uint8_t> raw, uint16_t payload_len, bool bad_checksum,
                                uint16_t ident, PeerFrame& frame, size_t& payload) {
    constexpr size_t kTcpAt = kEthernetHeaderLen + kIpv4MinHeaderLen;
    const size_t fixed = h.options.emitted_len();
    const size_t raw_len = std::min(raw.size(), TcpOptions::kMaxOptionBytes - fixed);
    const size_t header = kTcpMinHeaderLen + (fixed + raw_len + 3) / 4 * 4;
    std::fill(frame.begin(), frame.end(), 0);
    h.emit(frame.data() + kTcpAt);
    frame[kTcpAt + 12] = static_cast<uint8_t>(header / 4 << 4);
    std::copy_n(raw.begin(), raw_len, frame.begin() + kTcpAt + kTcpMinHeaderLen + fixed);
    payload = std::min<size_t>(payload_len, 1500 - kIpv4MinHeaderLen - header);
    const uint32_t first = h.seq + ((h.flags & tcp_flags::syn) ? 1 : 0);  // the SYN takes the first number
    for (size_t i = 0; i < payload; ++i) frame[kTcpAt + header + i] = peer_byte(first + uint32_t(i));
    const uint16_t segment_len = static_cast<uint16_t>(header + payload);
    ChecksumAccumulator acc;
    add_pseudo_header(acc, kTcpPeerAddress, kTcpOurAddress, uint8_t(IpProtocol::tcp), segment_len);
    acc.add(frame.data() + kTcpAt, segment_len);
    uint16_t checksum = acc.finish();
    if (bad_checksum) checksum ^= 0x0101;  // never turns 0x0000 into its twin 0xFFFF
    store_be16(frame.data() + kTcpAt + 16, checksum);
    emit_peer_headers(frame, uint8_t(IpProtocol::tcp), segment_len, ident, true);
    return kTcpAt + segment_len;
}

// An ICMP error quoting the connection stack_port -> peer_port at sequence number
// `seq` (RFC 5927): `kind` 0 fragmentation needed (with `mtu`), 1 port unreachable,
// 2 protocol unreachable, 3 time exceeded. Returns the frame length.
inline size_t emit_peer_icmp(uint8_t kind, uint16_t mtu, uint16_t stack_port, uint16_t peer_port, uint32_t seq,
                             uint16_t ident, PeerFrame& frame) {
    constexpr size_t kIcmpAt = kEthernetHeaderLen + kIpv4MinHeaderLen;
    constexpr size_t kQuotedAt = kIcmpAt + kIcmpHeaderLen;
    constexpr size_t kQuotedLen = kIpv4MinHeaderLen + 8;  // RFC 792: the header and 8 bytes
    std::fill(frame.begin(), frame.end(), 0);
    Ipv4Repr{.src = kTcpOurAddress,
             .dst = kTcpPeerAddress,
             .protocol = uint8_t(IpProtocol::tcp),
             .ttl = 64,
             .dont_fragment = true,
             .payload_len = 40}
        .emit(frame.data() + kQuotedAt);
    store_be16(frame.data() + kQuotedAt + kIpv4MinHeaderLen, stack_port);
    store_be16(frame.data() + kQuotedAt + kIpv4MinHeaderLen + 2, peer_port);
    store_be32(frame.data() + kQuotedAt + kIpv4MinHeaderLen + 4, seq);
    static constexpr uint8_t kCodes[] = {uint8_t(IcmpUnreachCode::frag_needed), uint8_t(IcmpUnreachCode::port),
                                         uint8_t(IcmpUnreachCode::protocol), 0};
    IcmpView icmp{std::span<uint8_t>(frame).subspan(kIcmpAt, kIcmpHeaderLen + kQuotedLen)};
    icmp.set_type(kind == 3 ? uint8_t(IcmpType::time_exceeded) : uint8_t(IcmpType::dest_unreachable));
    icmp.set_code(kCodes[kind & 3]);
    icmp.set_rest(kind == 0 ? mtu : 0);
    icmp.fill_checksum();
    emit_peer_headers(frame, uint8_t(IpProtocol::icmp), uint16_t(kIcmpHeaderLen + kQuotedLen), ident, false);
    return kQuotedAt + kQuotedLen;
}

}  // namespace quasi::fuzz
