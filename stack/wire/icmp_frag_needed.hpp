// An ICMP "fragmentation needed" (RFC 1191) as a router on the path sends it about
// one of our TCP segments, in a whole Ethernet frame: the stack never sends one; the
// board's end-to-end test and the remote tests inject it to lower a connection's path
// MTU and MSS (ports/arm/echo/remote_spec.cpp, tests/remote/remote_device_test_tcp.cpp).
#pragma once

#include "stack/wire/checksum.hpp"
#include "stack/wire/ethernet.hpp"
#include "stack/wire/icmp.hpp"
#include "stack/wire/ipv4.hpp"

#include <cstring>

namespace quasi {

struct TcpFragNeeded {
    MacAddr dst_mac;   // ours
    MacAddr src_mac;   // the router's
    Ipv4Addr router;
    Ipv4Addr src;      // the quoted segment's: ours
    Ipv4Addr dst;      // the peer
    uint16_t src_port;
    uint16_t dst_port;
    uint32_t seq;      // in flight (RFC 5927 4.1), else the stack ignores it
    uint16_t mtu;      // the next hop's MTU

    static constexpr size_t kIcmpLen = kIcmpHeaderLen + kIpv4MinHeaderLen + 8;
    static constexpr size_t kFrameLen = kEthernetHeaderLen + kIpv4MinHeaderLen + kIcmpLen;

    // Writes the kFrameLen bytes of the frame at p.
    void emit(uint8_t* p) const {
        EthernetRepr{.dst = dst_mac, .src = src_mac, .ethertype = uint16_t(EtherType::ipv4)}.emit(p);
        Ipv4Repr{.src = router, .dst = src, .protocol = uint8_t(IpProtocol::icmp), .ttl = 64,
                 .payload_len = uint16_t(kIcmpLen)}
            .emit(p + kEthernetHeaderLen);
        uint8_t* icmp = p + kEthernetHeaderLen + kIpv4MinHeaderLen;
        std::memset(icmp, 0, kIcmpLen);
        icmp[0] = uint8_t(IcmpType::dest_unreachable);
        icmp[1] = uint8_t(IcmpUnreachCode::frag_needed);
        store_be16(icmp + 6, mtu);
        // The quoted datagram: a full-size segment that did not fit.
        Ipv4Repr{.src = src, .dst = dst, .protocol = uint8_t(IpProtocol::tcp), .ttl = 64, .dont_fragment = true,
                 .payload_len = 1500 - kIpv4MinHeaderLen}
            .emit(icmp + kIcmpHeaderLen);
        uint8_t* quoted = icmp + kIcmpHeaderLen + kIpv4MinHeaderLen;
        store_be16(quoted, src_port);
        store_be16(quoted + 2, dst_port);
        store_be32(quoted + 4, seq);
        store_be16(icmp + 2, internet_checksum({icmp, kIcmpLen}));
    }
};

}  // namespace quasi
