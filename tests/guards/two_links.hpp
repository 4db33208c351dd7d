// Two stacks joined by two in-memory links, A's interfaces 198.18.0.1 and 198.18.1.1,
// B's both 198.18.0.2 (B is a strong host, RFC 1122 3.3.4.2: an interface takes
// only datagrams for its own address): a route to B can move from the first link to
// the second. The fixture of the guards' stream tests.
#pragma once

#include "ports/x86/mem_link.hpp"
#include "stack/socket.hpp"
#include "stack/stack.hpp"
#include "stack/wire/ethernet.hpp"
#include "stack/wire/icmp.hpp"
#include "stack/wire/ipv4.hpp"
#include "stack/wire/checksum.hpp"

#include <array>
#include <cstring>
#include <utility>

namespace quasi::test {

struct TwoLinks {
    static constexpr Ipv4Addr kA0 = Ipv4Addr::from_octets(198, 18, 0, 1);
    static constexpr Ipv4Addr kA1 = Ipv4Addr::from_octets(198, 18, 1, 1);
    static constexpr Ipv4Addr kB0 = Ipv4Addr::from_octets(198, 18, 0, 2);

    TwoLinks()
        : link0(MemLink::Config{.queue_frames = 4096}),
          link1(MemLink::Config{.queue_frames = 4096,
                                .mac_a = MacAddr{{0x02, 0, 0, 0, 1, 0x0a}},
                                .mac_b = MacAddr{{0x02, 0, 0, 0, 1, 0x0b}}}),
          a(config(1), clock, &pool),
          b(config(2), clock, &pool) {
        a.add_interface(link0.a(), kA0, 24);
        a.add_interface(link1.a(), kA1, 24);
        b.add_interface(link0.b(), kB0, 24);
        b.add_interface(link1.b(), kB0, 24);
        pump();
    }
    static Stack::Config config(uint64_t seed) {
        Stack::Config s;
        s.seed = seed;
        s.tcp.send_buffer = 1 << 20;
        s.tcp.receive_buffer = 1 << 20;
        return s;
    }

    size_t poll_once() {
        clock.advance(10 * kMicrosecond);
        return a.poll() + b.poll();
    }
    void pump(int max_rounds = 200) {
        for (int i = 0; i < max_rounds; ++i)
            if (poll_once() == 0 && link0.a().rx_pending() == 0 && link0.b().rx_pending() == 0 &&
                link1.a().rx_pending() == 0 && link1.b().rx_pending() == 0)
                return;
    }

    // A TCP connection from A to B's port 5001 on B's address: {A's fd, B's fd}.
    std::pair<int, int> tcp_connection() {
        int listener = socket(b, kAfInet, kSockStream);
        bind(b, listener, SockAddr{kB0, 5001});
        listen(b, listener, 1);
        int fa = socket(a, kAfInet, kSockStream);
        connect(a, fa, SockAddr{kB0, 5001});
        pump();
        int fb = accept(b, listener, nullptr);
        close(b, listener);
        return {fa, fb};
    }

    // A forged but valid ICMP "fragmentation needed" from B's side of link 0 (RFC
    // 1191), quoting the IPv4 header and first 8 bytes of a datagram A sent.
    void icmp_frag_needed(Ipv4Addr src, Ipv4Addr dst, uint8_t protocol, const uint8_t quoted_transport[8],
                          uint16_t mtu) {
        PacketPtr frame = pool.alloc();
        constexpr size_t kIcmpLen = 8 + kIpv4MinHeaderLen + 8;
        uint8_t* p = frame->append(kEthernetHeaderLen + kIpv4MinHeaderLen + kIcmpLen);
        EthernetRepr{.dst = link0.a().mac(), .src = link0.b().mac(), .ethertype = uint16_t(EtherType::ipv4)}.emit(p);
        uint8_t* icmp = p + kEthernetHeaderLen + kIpv4MinHeaderLen;
        Ipv4Repr{.src = kB0, .dst = kA0, .protocol = uint8_t(IpProtocol::icmp), .ttl = 64,
                 .payload_len = uint16_t(kIcmpLen)}
            .emit(p + kEthernetHeaderLen);
        std::memset(icmp, 0, kIcmpLen);
        icmp[0] = uint8_t(IcmpType::dest_unreachable);
        icmp[1] = uint8_t(IcmpUnreachCode::frag_needed);
        store_be16(icmp + 6, mtu);
        Ipv4Repr{.src = src, .dst = dst, .protocol = protocol, .ttl = 64, .dont_fragment = true, .payload_len = 1000}
            .emit(icmp + 8);
        std::memcpy(icmp + 8 + kIpv4MinHeaderLen, quoted_transport, 8);
        store_be16(icmp + 2, internet_checksum({icmp, kIcmpLen}));
        a.ethernet_input(*a.interface(0), std::move(frame));
    }

    ManualClock clock;
    BufferPool pool{BufferPool::Config{.count = 8192}};
    MemLink link0;
    MemLink link1;
    Stack a;
    Stack b;
};

}  // namespace quasi::test
