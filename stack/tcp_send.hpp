// The TCP segment path, written once over a context policy (DESIGN.md).
//
// A TcpFrameSpec holds what a segment's frame owes to the connection's
// quasi-invariants: addresses, ports, next-hop MACs, TTL/TOS and which options were
// negotiated. The live context computes it per segment (route and neighbour from the
// socket's validated cache, Stack::route_cached); a frozen context returns a
// constant. The dynamic part (sequence numbers, window, timestamps, SACK blocks,
// payload) always comes from the socket.
#pragma once

#include "stack/buffer.hpp"
#include "stack/tcp_buffers.hpp"
#include "stack/wire/checksum.hpp"
#include "stack/wire/ethernet.hpp"
#include "stack/wire/ipv4.hpp"
#include "stack/wire/tcp.hpp"

#include <cstring>

namespace quasi {

class Interface;
class Stack;
struct TcpSocket;

struct TcpFrameSpec {
    Interface* iface = nullptr;
    MacAddr src_mac;
    MacAddr dst_mac;
    bool resolved = false;  // dst_mac known; otherwise the frame waits for ARP
    Ipv4Addr next_hop;
    Ipv4Addr src;
    Ipv4Addr dst;
    uint16_t src_port = 0;
    uint16_t dst_port = 0;
    uint8_t ttl = 64;
    uint8_t tos = 0;
    bool checksum_offload = false;  // the device completes it (kMetaTxChecksumPartial); frozen: never
};

// The per-segment header values.
struct TcpSegment {
    uint32_t seq = 0;
    uint32_t ack = 0;
    uint8_t flags = 0;
    uint16_t window = 0;
    TcpOptions options;
};

constexpr size_t kTcpFrameOverhead = kEthernetHeaderLen + kIpv4MinHeaderLen;

// Where a segment's payload comes from; emit_tcp_frame copies it into the frame and
// sums it in one pass.
// RingPayload: bytes already in the send ring (every segment of the general path,
// retransmissions too).
struct RingPayload {
    ByteRing::Spans spans;

    size_t size() const { return spans.first.size() + spans.second.size(); }
    void copy_and_sum(ChecksumAccumulator& acc, uint8_t* to) const {
        acc.add_copy(to, spans.first.data(), spans.first.size());
        acc.add_copy(to + spans.first.size(), spans.second.data(), spans.second.size());
    }
    // The same without the sum (the device sums: checksum offload).
    void copy(uint8_t* to) const {
        if (!spans.first.empty()) std::memcpy(to, spans.first.data(), spans.first.size());
        if (!spans.second.empty()) std::memcpy(to + spans.first.size(), spans.second.data(), spans.second.size());
    }
};
// UserPayload: new bytes straight from the caller's buffer, copied at once into the
// frame and into the ring's storage past its tail (where they are kept for
// retransmission) and summed on the way; one read of the data instead of append's
// copy and then the frame's. The caller commits the ring's bytes after the emit.
struct UserPayload {
    const uint8_t* data;
    ByteRing::WriteSpans ring;

    size_t size() const { return ring.first.size() + ring.second.size(); }
    void copy_and_sum(ChecksumAccumulator& acc, uint8_t* to) const {
        const size_t first = ring.first.size();
        acc.add_copy2(to, ring.first.data(), data, first);
        if (!ring.second.empty()) acc.add_copy2(to + first, ring.second.data(), data + first, ring.second.size());
    }
    void copy(uint8_t* to) const {
        const size_t first = ring.first.size();
        std::memcpy(to, data, size());
        std::memcpy(ring.first.data(), data, first);
        if (!ring.second.empty()) std::memcpy(ring.second.data(), data + first, ring.second.size());
    }
};

// Writes Ethernet + IPv4 + TCP header + options + `payload` (copied and summed in
// one pass) into an empty buffer. TCP always sets DF: it does path MTU discovery.
template <class Payload>
inline void emit_tcp_frame(const TcpFrameSpec& s, PacketBuffer& frame, const TcpSegment& seg, const Payload& payload,
                           uint16_t ident) {
    TcpRepr tcp{.src_port = s.src_port,
                .dst_port = s.dst_port,
                .seq = seg.seq,
                .ack = seg.ack,
                .flags = seg.flags,
                .window = seg.window,
                .urgent = 0,
                .options = seg.options};
    size_t tcp_header = tcp.header_len();
    size_t len = payload.size();
    uint8_t* p = frame.append(kTcpFrameOverhead + tcp_header + len);
    EthernetRepr{s.dst_mac, s.src_mac, uint16_t(EtherType::ipv4)}.emit(p);
    uint8_t* ip = p + kEthernetHeaderLen;
    uint16_t segment_len = static_cast<uint16_t>(tcp_header + len);
    Ipv4Repr{.src = s.src,
             .dst = s.dst,
             .protocol = uint8_t(IpProtocol::tcp),
             .ttl = s.ttl,
             .tos = s.tos,
             .ident = ident,
             .dont_fragment = true,
             .payload_len = segment_len}
        .emit(ip);
    uint8_t* th = ip + kIpv4MinHeaderLen;
    tcp.emit(th);
    ChecksumAccumulator acc;
    add_pseudo_header(acc, s.src, s.dst, uint8_t(IpProtocol::tcp), segment_len);
    if (s.checksum_offload) {  // the device sums header and payload
        payload.copy(th + tcp_header);
        store_be16(th + 16, acc.folded());
        frame.meta |= kMetaTxChecksumPartial;
        return;
    }
    acc.add(th, tcp_header);
    payload.copy_and_sum(acc, th + tcp_header);
    store_be16(th + 16, acc.finish());
}

// The generic policy: route, neighbour and IP ID bucket for every segment from the
// socket's cache of them (DstEntry), checked against their versions each time.
struct TcpLiveContext {
    Stack& stack;
    TcpSocket& socket;
    uint16_t* ident_counter;  // set by prepare()

    // 0, or -ENETUNREACH when no route leads to the peer.
    int prepare(TcpFrameSpec& spec);
    PacketPtr alloc_frame();
    uint16_t ip_ident(const TcpFrameSpec& spec);
    void transmit(const TcpFrameSpec& spec, PacketPtr frame);
};

}  // namespace quasi
