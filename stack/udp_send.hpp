// The UDP send path, written once over a context policy (DESIGN.md, "binding-time
// annotations").
//
// udp_send<Ctx> asks the context to prepare a UdpFrameSpec: everything about the
// frame that does not depend on the payload. UdpLiveContext computes it per call
// (socket state; route, path MTU and neighbour from the socket's validated cache of
// them, Stack::route_cached); a frozen context returns
// a constant, so once specialized the whole of prepare() folds away and what is left
// is header stores, a copy and a checksum. The live context declines (kSlowPath) for
// what the fast path does not handle: fragmentation, broadcast, unresolved
// neighbours; the caller then takes the general path through ipv4_output.
#pragma once

#include "stack/buffer.hpp"
#include "stack/wire/checksum.hpp"
#include "stack/wire/ethernet.hpp"
#include "stack/wire/ipv4.hpp"
#include "stack/wire/udp.hpp"

#include <cerrno>
#include <cstring>
#include <sys/types.h>

namespace quasi {

class Interface;
class Stack;
struct UdpSocket;
struct SockAddr;

struct UdpFrameSpec {
    Interface* iface = nullptr;
    MacAddr src_mac;
    MacAddr dst_mac;
    Ipv4Addr src;
    Ipv4Addr dst;
    uint16_t src_port = 0;
    uint16_t dst_port = 0;
    uint8_t ttl = 64;
    uint8_t tos = 0;
    bool dont_fragment = false;
    bool checksum = true;
    bool checksum_offload = false;  // the device completes it (kMetaTxChecksumPartial); frozen: never
    uint16_t max_payload = 0;  // the largest payload one frame carries (udp_single_frame_payload)
};

// prepare(): not a single-frame send to a resolved neighbour. Below every -errno, so
// it can travel in the same return value as byte counts and errors.
constexpr int kSlowPath = -4096;

constexpr size_t kUdpFrameOverhead = kEthernetHeaderLen + kIpv4MinHeaderLen + kUdpHeaderLen;

// The largest payload the fast path puts in one frame: what the path MTU allows and
// what one pool buffer holds after its headroom (a link MTU above the buffer size
// sends through the general, chaining path).
inline uint16_t udp_single_frame_payload(size_t path_mtu, const BufferPool& pool) {
    size_t by_mtu = path_mtu > kIpv4MinHeaderLen + kUdpHeaderLen ? path_mtu - kIpv4MinHeaderLen - kUdpHeaderLen : 0;
    size_t room = pool.data_room() - pool.headroom();
    size_t by_buffer = room > kUdpFrameOverhead ? room - kUdpFrameOverhead : 0;
    return static_cast<uint16_t>(by_mtu < by_buffer ? by_mtu : by_buffer);
}

// Writes Ethernet + IPv4 + UDP headers and the payload into an empty buffer.
inline void emit_udp_frame(const UdpFrameSpec& s, PacketBuffer& frame, const uint8_t* data, size_t len,
                           uint16_t ident) {
    uint8_t* p = frame.append(kUdpFrameOverhead + len);
    EthernetRepr{s.dst_mac, s.src_mac, uint16_t(EtherType::ipv4)}.emit(p);
    uint8_t* ip = p + kEthernetHeaderLen;
    Ipv4Repr{.src = s.src,
             .dst = s.dst,
             .protocol = uint8_t(IpProtocol::udp),
             .ttl = s.ttl,
             .tos = s.tos,
             .ident = ident,
             .dont_fragment = s.dont_fragment,
             .payload_len = static_cast<uint16_t>(kUdpHeaderLen + len)}
        .emit(ip);
    uint8_t* udp = ip + kIpv4MinHeaderLen;
    const auto udp_len = static_cast<uint16_t>(kUdpHeaderLen + len);
    UdpRepr{s.src_port, s.dst_port, static_cast<uint16_t>(len)}.emit(udp);
    if (!s.checksum) {
        if (len != 0) std::memcpy(udp + kUdpHeaderLen, data, len);
        return;
    }
    // Pseudo-header and UDP header from the fields (constants once specialized), the
    // payload copied and summed in one pass.
    ChecksumAccumulator acc;
    add_pseudo_header(acc, s.src, s.dst, uint8_t(IpProtocol::udp), udp_len);
    if (s.checksum_offload) {  // the device sums header and payload
        if (len != 0) std::memcpy(udp + kUdpHeaderLen, data, len);
        store_be16(udp + 6, acc.folded());
        frame.meta |= kMetaTxChecksumPartial;
        return;
    }
    acc.add16(s.src_port);
    acc.add16(s.dst_port);
    acc.add16(udp_len);
    acc.add_copy(udp + kUdpHeaderLen, data, len);
    store_be16(udp + 6, UdpRepr::finish_checksum(acc));
}

template <class Ctx>
ssize_t udp_send(Ctx& ctx, const uint8_t* data, size_t len) {
    UdpFrameSpec spec;
    if (int rc = ctx.prepare(spec, len); rc != 0) return rc;
    PacketPtr frame = ctx.alloc_frame();
    if (!frame) return -ENOBUFS;
    emit_udp_frame(spec, *frame, data, len, ctx.ip_ident(spec));
    ctx.transmit(spec, static_cast<PacketPtr&&>(frame));
    return static_cast<ssize_t>(len);
}

// The generic policy: everything read from the live objects on every call, the
// route, path MTU, neighbour and IP ID bucket through the socket's cache of them
// (DstEntry, checked against their versions at every call).
struct UdpLiveContext {
    Stack& stack;
    UdpSocket& socket;
    const SockAddr* destination;  // null: the connected peer
    uint16_t* ident_counter;      // set by prepare()

    int prepare(UdpFrameSpec& spec, size_t len);
    PacketPtr alloc_frame();
    uint16_t ip_ident(const UdpFrameSpec& spec);
    void transmit(const UdpFrameSpec& spec, PacketPtr frame);
};

extern template ssize_t udp_send<UdpLiveContext>(UdpLiveContext&, const uint8_t*, size_t);

}  // namespace quasi
